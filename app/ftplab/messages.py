"""Every string a user reads, in Spanish (the lab's language, the default) and English.

The server's replies travel in the server's language; what the client says by
itself (prompts, progress, errors) is in the client's. Logs are for operators
and stay in English.
"""

from __future__ import annotations

DEFAULT_LANGUAGE = "es"

SPANISH = {
    "welcome": "Hola, {name}. Conectados: {count}. Escribe help para ver los comandos.",
    "joined": "{name} se ha unido",
    "left": "{name} se ha ido",
    "no_such_file": "El archivo no existe",
    "no_such_file_named": "El archivo no existe: {name}",
    "not_a_file": "No es un archivo que se pueda descargar: {name}",
    "unreadable_file": "No se puede leer el archivo: {name}",
    "ambiguous_file_name": (
        "Hay varios archivos que se escriben {name}, con distinta forma Unicode: "
        "ninguno se llama exactamente así"
    ),
    "transfer_aborted": "Transferencia interrumpida: {name}",
    "list_header": "Archivos en el servidor ({count}):",
    "list_empty": "No hay archivos en el servidor",
    "who": "Conectados ({count}): {names}",
    "private": "(privado) {text}",
    "no_such_user": "No hay nadie conectado con el nombre {name}",
    "usage_get": "Uso: get NOMBRE_DE_ARCHIVO",
    "usage_no_arguments": "El comando {command} no lleva argumentos",
    "usage_private": "Uso: @NOMBRE texto",
    "server_full": "Servidor lleno ({limit} clientes): inténtalo más tarde",
    "too_many_from_address": "Demasiadas conexiones desde tu dirección (máximo {limit})",
    "name_taken": "El nombre {name} ya está en uso (o se parece demasiado a uno que lo está)",
    "bad_name": (
        "Nombre no válido: {name} (de 1 a 32 caracteres, sin espacios, caracteres invisibles ni > @ !)"
    ),
    "no_name": "La primera línea debe empezar por tu nombre y '> ' (por ejemplo: ana> hola)",
    "impersonation": "Eres {name}: no puedes escribir como {other}",
    "no_prefix": "Cada línea debe empezar por tu nombre y '> ' (por ejemplo: {name}> list)",
    "line_too_long": "Línea demasiado larga (máximo {limit} bytes): descartada",
    "bad_encoding": "La línea no es UTF-8 válido: descartada",
    "idle": "Desconectado tras {seconds} s sin actividad",
    "chat_flood": "Demasiados mensajes seguidos: espera un momento (los demás no los han recibido)",
    "server_closing": "El servidor se cierra. ¡Hasta pronto!",
    "bye": "Adiós, {name}",
    "help_title": "Comandos:",
    "help_list": "  list             los archivos del servidor",
    "help_get": "  get ARCHIVO      descarga un archivo",
    "help_who": "  who              quién está conectado",
    "help_quit": "  quit             salir",
    "help_private": "  @NOMBRE texto    mensaje privado",
    "help_chat": "  cualquier otra cosa es un mensaje para todos",
    # the client's own words
    "ask_name": "Tu nombre: ",
    "name_required": "Hace falta un nombre: usa --name o FTPLAB_NAME",
    "cannot_connect": "No se puede conectar con {host}:{port}: {reason}",
    "connection_lost": "Se ha perdido la conexión con el servidor",
    "server_said": "El servidor ha cerrado la conexión: {text}",
    "broken_stream": "El servidor envió datos no válidos ({detail}); conexión cerrada",
    "download_started": "Descargando {name} ({size})",
    "download_saved": "Guardado {path} ({size}, SHA-256 verificado)",
    "download_corrupt": "Descarga de {name} descartada: el contenido no coincide con el SHA-256 del servidor",
    "download_failed": "No se puede guardar {name}: {reason}",
    "download_unsafe_name": "Descarga rechazada: nombre de archivo no válido {name}",
    "download_progress": "[{name} {percent}%]",
    # the server console
    "console_listening": (
        "Servidor {name} escuchando en {host}:{port}, sirviendo {root} (máximo {limit} clientes)"
    ),
    "console_private_to_you": "{sender} (privado)> {text}",
    "console_no_name": "Hace falta un nombre para el servidor: usa --name o FTPLAB_NAME",
    "max_clients_zero": (
        "--max-clients debe ser al menos 1: con 0 no entraría nadie "
        "(en --max-per-ip, 0 sí significa sin límite)"
    ),
}

ENGLISH = {
    "welcome": "Hello, {name}. Connected: {count}. Type help for the commands.",
    "joined": "{name} joined",
    "left": "{name} left",
    "no_such_file": "No such file",
    "no_such_file_named": "No such file: {name}",
    "not_a_file": "Not a file that can be downloaded: {name}",
    "unreadable_file": "Cannot read the file: {name}",
    "ambiguous_file_name": (
        "Several files are spelt {name} in different Unicode forms, and none is exactly that name"
    ),
    "transfer_aborted": "Transfer interrupted: {name}",
    "list_header": "Files on the server ({count}):",
    "list_empty": "There are no files on the server",
    "who": "Connected ({count}): {names}",
    "private": "(private) {text}",
    "no_such_user": "Nobody called {name} is connected",
    "usage_get": "Usage: get FILENAME",
    "usage_no_arguments": "The {command} command takes no arguments",
    "usage_private": "Usage: @NAME text",
    "server_full": "Server full ({limit} clients): try again later",
    "too_many_from_address": "Too many connections from your address (at most {limit})",
    "name_taken": "The name {name} is already in use (or looks too much like one that is)",
    "bad_name": "Invalid name: {name} (1 to 32 characters, no spaces, no invisible characters, no > @ !)",
    "no_name": "The first line must start with your name and '> ' (for example: ana> hello)",
    "impersonation": "You are {name}: you cannot write as {other}",
    "no_prefix": "Every line must start with your name and '> ' (for example: {name}> list)",
    "line_too_long": "Line too long (at most {limit} bytes): dropped",
    "bad_encoding": "The line is not valid UTF-8: dropped",
    "idle": "Disconnected after {seconds} s without activity",
    "chat_flood": "Too many messages in a row: wait a moment (the others did not get them)",
    "server_closing": "The server is closing. Goodbye!",
    "bye": "Goodbye, {name}",
    "help_title": "Commands:",
    "help_list": "  list             the server's files",
    "help_get": "  get FILE         download a file",
    "help_who": "  who              who is connected",
    "help_quit": "  quit             leave",
    "help_private": "  @NAME text       private message",
    "help_chat": "  anything else is a message to everyone",
    "ask_name": "Your name: ",
    "name_required": "A name is required: use --name or FTPLAB_NAME",
    "cannot_connect": "Cannot connect to {host}:{port}: {reason}",
    "connection_lost": "The connection to the server was lost",
    "server_said": "The server closed the connection: {text}",
    "broken_stream": "The server sent invalid data ({detail}); connection closed",
    "download_started": "Downloading {name} ({size})",
    "download_saved": "Saved {path} ({size}, SHA-256 verified)",
    "download_corrupt": "Download of {name} discarded: the content does not match the server's SHA-256",
    "download_failed": "Cannot save {name}: {reason}",
    "download_unsafe_name": "Download refused: invalid file name {name}",
    "download_progress": "[{name} {percent}%]",
    "console_listening": "Server {name} listening on {host}:{port}, serving {root} (at most {limit} clients)",
    "console_private_to_you": "{sender} (private)> {text}",
    "console_no_name": "The server needs a name: use --name or FTPLAB_NAME",
    "max_clients_zero": (
        "--max-clients must be at least 1: with 0 nobody could join (for --max-per-ip, 0 does mean no limit)"
    ),
}

CATALOGUES = {"es": SPANISH, "en": ENGLISH}
HELP_KEYS = ("help_title", "help_list", "help_get", "help_who", "help_quit", "help_private", "help_chat")


class Messages:
    """The catalogue of one language: `messages("no_such_file_named", name="a")`."""

    def __init__(self, language: str | None = None):
        self.language = language if language in CATALOGUES else DEFAULT_LANGUAGE
        self._strings = CATALOGUES[self.language]

    def __call__(self, key: str, **values) -> str:
        return self._strings[key].format(**values)


def human_size(size: int) -> str:
    """1536 -> '1.5 KiB'; sizes under 1 KiB stay in bytes."""
    if size < 1024:
        return f"{size} B"
    value = size / 1024
    for unit in ("KiB", "MiB"):
        if round(value, 1) < 1024:
            return f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.1f} GiB"
