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
    "name_taken": "El nombre {name} ya está en uso",
    "bad_name": "Nombre no válido: {name} (de 1 a 32 caracteres, sin espacios ni > @ !)",
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
    "download_saved": "Guardado {path} ({size} en {seconds} s, {rate}/s, SHA-256 verificado)",
    "download_corrupt": "Descarga de {name} descartada: el contenido no coincide con el SHA-256 del servidor",
    "download_failed": "No se puede guardar {name}: {reason}",
    "download_unsafe_name": "Descarga rechazada: nombre de archivo no válido {name}",
    "download_progress": "[{name} {percent} %  {received}/{size}  {rate}/s  {eta}]",
    "download_queued": "{name}: en cola ({ahead} por delante)",
    "download_interrupted": "{name}: descarga interrumpida al {percent} %, no se guardó nada",
    "download_not_asked": "Descarga rechazada: {name} no se ha pedido",
    "gets_failed": "Descargas fallidas: {count}",
    "no_hello": "El servidor no ha respondido en {seconds} s",
    "left_on_signal": "Terminado por {signal}",
    "leaving_after_downloads": (
        "Saldré cuando terminen las descargas pedidas; para salir ya, pulsa Ctrl-C dos veces"
    ),
    "interrupt_during_download": (
        "Descarga en curso: Ctrl-C otra vez para salir ya (no se guardará), o quit para salir al acabar"
    ),
    "interrupt_idle": "Para salir: Ctrl-C otra vez, Ctrl-D o quit",
    "server_not_reading": "El servidor no está leyendo lo que envías: línea no enviada",
    "hint_no_folders": "No hay carpetas: list muestra los archivos y get ARCHIVO descarga uno",
    "hint_no_upload": "No se pueden subir archivos: el servidor solo los ofrece (get ARCHIVO)",
    "hint_one_file": "Un archivo cada vez: get ARCHIVO (varios get seguidos esperan en cola)",
    "name_rule": "Escribe un nombre: de 1 a 32 caracteres, sin espacios ni > @ !",
    "not_a_directory": "no es un directorio",
    "stdout_closed": "la salida estándar está cerrada (para descartarla, usa >/dev/null)",
    # the server console
    "console_listening": (
        "Servidor {name} escuchando en {host}:{port}, sirviendo {root} (máximo {limit} clientes)"
    ),
    "console_private_to_you": "{sender} (privado)> {text}",
    "console_no_name": "Hace falta un nombre para el servidor: usa --name o FTPLAB_NAME",
}

ENGLISH = {
    "welcome": "Hello, {name}. Connected: {count}. Type help for the commands.",
    "joined": "{name} joined",
    "left": "{name} left",
    "no_such_file": "No such file",
    "no_such_file_named": "No such file: {name}",
    "not_a_file": "Not a file that can be downloaded: {name}",
    "unreadable_file": "Cannot read the file: {name}",
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
    "name_taken": "The name {name} is already in use",
    "bad_name": "Invalid name: {name} (1 to 32 characters, no spaces, no > @ !)",
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
    "download_saved": "Saved {path} ({size} in {seconds} s, {rate}/s, SHA-256 verified)",
    "download_corrupt": "Download of {name} discarded: the content does not match the server's SHA-256",
    "download_failed": "Cannot save {name}: {reason}",
    "download_unsafe_name": "Download refused: invalid file name {name}",
    "download_progress": "[{name} {percent} %  {received}/{size}  {rate}/s  {eta}]",
    "download_queued": "{name}: queued ({ahead} ahead)",
    "download_interrupted": "{name}: download interrupted at {percent} %, nothing was saved",
    "download_not_asked": "Download refused: {name} was not asked for",
    "gets_failed": "Failed downloads: {count}",
    "no_hello": "The server did not answer within {seconds} s",
    "left_on_signal": "Ended by {signal}",
    "leaving_after_downloads": (
        "I will leave when the downloads asked for are done; to leave now, press Ctrl-C twice"
    ),
    "interrupt_during_download": (
        "Download in progress: Ctrl-C again to leave now (it will not be saved), or quit to leave when done"
    ),
    "interrupt_idle": "To leave: Ctrl-C again, Ctrl-D or quit",
    "server_not_reading": "The server is not reading what you send: line not sent",
    "hint_no_folders": "There are no folders: list shows the files and get FILE downloads one",
    "hint_no_upload": "Files cannot be uploaded: the server only offers them (get FILE)",
    "hint_one_file": "One file at a time: get FILE (several gets in a row wait in a queue)",
    "name_rule": "Type a name: 1 to 32 characters, no spaces, no > @ !",
    "not_a_directory": "not a directory",
    "stdout_closed": "standard output is closed (to discard it, use >/dev/null)",
    "console_listening": "Server {name} listening on {host}:{port}, serving {root} (at most {limit} clients)",
    "console_private_to_you": "{sender} (private)> {text}",
    "console_no_name": "The server needs a name: use --name or FTPLAB_NAME",
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
