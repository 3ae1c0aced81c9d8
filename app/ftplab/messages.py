"""Every string a user reads, in Spanish (the lab's language, the default) and English.

Each client announces its language when it joins, and the server's replies to
it travel in that language (clients that announce none get the server's); what
the client says by itself (prompts, progress, errors) is in the client's. Chat
is never translated. Logs are for operators and stay in English.
"""

from __future__ import annotations

import errno
import socket
from datetime import datetime

DEFAULT_LANGUAGE = "es"

SPANISH = {
    "welcome": "Hola, {name}. Conectados: {count}. Escribe help para ver los comandos.",
    "joined": "{name} se ha unido",
    "left": "{name} se ha ido",
    "joined_many": "{names} y {count} más se han unido",
    "uploaded": "{name} subió {path} ({size})",
    "renamed": "{name} cambió el nombre de {old} a {new}",
    "not_in_chat": "{name} está conectado por FTP y no recibe mensajes",
    "left_many": "{names} y {count} más se han ido",
    "joined_more": "Más llegadas en los últimos {seconds} s: {count}",
    "left_more": "Más salidas en los últimos {seconds} s: {count}",
    "no_such_file": "El archivo no existe",
    "no_such_file_named": "El archivo no existe: {name}",
    "not_a_file": "No es un archivo que se pueda descargar: {name}",
    "unreadable_file": "No se puede leer el archivo: {name}",
    "ambiguous_file_name": (
        "Hay varios archivos que se escriben {name}, con distinta forma Unicode: "
        "ninguno se llama exactamente así"
    ),
    "transfer_aborted": "Transferencia interrumpida: {name}",
    "download_queue_full": (
        "Ya tienes demasiadas descargas en cola: espera a que terminen ({name} no se ha añadido)"
    ),
    "server_out_of_resources": (
        "El servidor no puede abrir archivos ahora mismo: inténtalo más tarde ({name})"
    ),
    "list_failed": "El servidor no puede leer su directorio ahora mismo: inténtalo más tarde",
    "folder_read_failed": "No se pudo leer la carpeta {name} hasta el final: inténtalo más tarde",
    "server_busy": "El servidor está ocupado (sin recursos libres): inténtalo más tarde",
    "evicted_no_name": "Servidor lleno: esta conexión no envió su nombre y deja sitio a otra",
    "list_header": "Archivos en el servidor ({count}):",
    "list_empty": "No hay archivos en el servidor",
    "who": "Conectados ({count}): {names}; servidor: {server}",
    "private": "(privado) {text}",
    "who_nobody": "Conectados (0); servidor: {server}",
    "kicked": "{name} te ha desconectado",
    "kicked_because": "{name} te ha desconectado: {reason}",
    "usage_kick": "Uso: /kick NOMBRE [motivo]",
    "console_kicked": "{name} desconectado",
    "console_help_title": "Comandos de la consola:",
    "console_help_who": "  /who                   quién está conectado",
    "console_help_kick": "  /kick NOMBRE [motivo]  desconecta a NOMBRE y le dice el motivo",
    "console_help_quit": "  /quit                  cierra el servidor (avisa a todos)",
    "console_help_history": "  /history               muestra otra vez los últimos mensajes",
    "console_help_private": "  @NOMBRE texto          mensaje privado",
    "console_help_chat": "  cualquier otra cosa es un mensaje para todos (//texto: uno que empieza por /)",
    "console_unknown_command": "No existe el comando {command} (no se ha enviado nada): escribe /help",
    "console_history_empty": "Todavía no hay conversación",
    "console_ftp_door": "Puerta FTP en {host}:{port}",
    "console_ftps_door": "Puerta FTPS (TLS implícito) en {host}:{port}",
    "console_tls": "TLS: la huella SHA-256 del certificado es {fingerprint} (díctasela a los alumnos)",
    "console_accounts": "Cuentas: solo entran las de {path}",
    "console_server_away": "El servidor se ha detenido: esperando a que vuelva (Ctrl-C sale)",
    "console_server_back": "El servidor ha vuelto",
    "console_server_gone": "El servidor no ha vuelto en {seconds} s: scripts/lab status dice por qué",
    "earlier_line": "(antes) {name}> {text}",
    "console_sent": "{name} descargó {path} ({size})",
    "console_upload_failed": "Falló la subida de {name}: {reason}",
    "console_send_failed": "Falló la descarga de {path} para {name}: {reason}",
    "console_file_changed": "el archivo cambió mientras se enviaba",
    "console_chat_flood": "{name} escribe demasiado deprisa: se descartan sus líneas",
    "no_such_user": "No hay nadie conectado con el nombre {name}",
    "usage_get": "Uso: get NOMBRE_DE_ARCHIVO",
    "no_match": "Ningún archivo coincide con {pattern}",
    "pattern_too_long": "Patrón demasiado largo: como mucho {limit} caracteres",
    "pattern_unclosed_bracket": (
        "Falta cerrar un [ en el patrón {pattern}: ciérralo con ], o escribe [[] para un ["
    ),
    "pattern_too_costly": ("El patrón {pattern} cuesta demasiado de comparar con esta carpeta: simplifícalo"),
    "mget_queue_full": (
        "Ya tienes demasiadas descargas en cola: {count} archivos no se han añadido, desde {name} "
        "(pídelos cuando terminen las otras)"
    ),
    "download_queued_by_server": "{name}: en cola",
    "usage_resume": "Uso: resume BYTES SHA256_DE_ESOS_BYTES NOMBRE_DE_ARCHIVO",
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
    "tls_bad_ca": "No se puede leer la CA {path}: {reason}",
    "tls_handshake_failed": "El servidor no habla TLS, o la negociación falló: {reason}",
    "tls_untrusted": (
        "No se puede verificar el certificado de {host} ({reason}): conexión rechazada. "
        "Su huella SHA-256 es {fingerprint}. Si es la del servidor (pregunta al profesor), "
        "conéctate con --fingerprint {fingerprint}, o con --ca y la CA de la clase"
    ),
    "tls_fingerprint_changed": (
        "¡El certificado del servidor ha cambiado! Esperaba {expected} y el servidor presenta {seen}: "
        "conexión rechazada (alguien podría estar haciéndose pasar por el servidor)"
    ),
    "tls_first_use": (
        "No se puede verificar el certificado de {server} ({reason}).\n"
        "Su huella SHA-256 es:\n  {fingerprint}\n"
        "Confía solo si es la que te ha dado el profesor "
        "(el servidor la escribe en su registro al arrancar)."
    ),
    "tls_trust_question": "¿Confías en este servidor y lo recuerdas? (sí/no): ",
    "tls_yes_or_no": "Responde sí o no.",
    "tls_not_trusted": "No confías en {server}: conexión cancelada",
    "tls_trust_stored": "Huella guardada en {path}: la próxima vez no se preguntará.",
    "tls_trust_not_stored": (
        "No se pudo guardar la huella en {path} ({reason}): se confía en ella solo hasta que salgas."
    ),
    "tls_known_hosts_unreadable": "No se puede leer {path} ({reason}): se ignora.",
    "tls_untrusted_piped": (
        "No se puede verificar el certificado de {server} ({reason}), y sin terminal no se puede "
        "preguntar si confías en él: conexión rechazada. Su huella SHA-256 es {fingerprint}; "
        "usa --ca con la CA de la clase, o --fingerprint {fingerprint} si es la del servidor"
    ),
    "tls_known_host_changed": (
        "¡ATENCIÓN! ¡EL CERTIFICADO DE {server} HA CAMBIADO! Conexión rechazada.\n"
        "Alguien podría estar haciéndose pasar por el servidor (o el profesor lo ha renovado).\n"
        "Huella guardada: {expected}\nHuella presentada: {seen}\n"
        "Si el cambio es legítimo, borra la línea {line} de {path} y conéctate de nuevo."
    ),
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
    "download_interrupted_kept": (
        "{name}: descarga interrumpida al {percent} %; se guardó lo recibido: get {name} la continúa"
    ),
    "download_resumed": "Continuando {name} desde {offset} ({size} en total)",
    "download_not_asked": "Descarga rechazada: {name} no se ha pedido",
    "partial_set_aside": (
        "Aviso: lo que hay en el nombre de la descarga parcial de {name} no es un archivo tuyo "
        "(un enlace, otro tipo de archivo o un archivo con otro nombre): apartado a {path}, "
        "se descarga entero"
    ),
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
    # the client coming back by itself, cancelling, and the system's errors in words
    "reconnecting_lost": "Se ha perdido la conexión con el servidor: reconectando (quit para salir)",
    "reconnecting_closed": "El servidor ha cerrado la conexión ({text}): reconectando (quit para salir)",
    "reconnect_waiting": "[sin conexión: intento {attempt} dentro de {seconds} s; reconnect lo intenta ya]",
    "reconnected": "De nuevo conectado como {name}",
    "cannot_connect_retrying": "{reason}: reintentando (quit para salir)",
    "kicked_staying": (
        "El servidor ha cerrado la conexión: {text}. No se vuelve a conectar solo: "
        "reconnect para volver, quit para salir"
    ),
    "not_connected": "Sin conexión: no se ha enviado (reconnect para reintentar ya, quit para salir)",
    "already_connected": "Ya estás conectado",
    "download_will_resume": "{name}: descarga interrumpida al {percent} %; continuará al volver la conexión",
    "name_taken_ask_again": "El nombre {name} ya está en uso: elige otro",
    "nothing_to_cancel": "No hay ninguna descarga que cancelar",
    "no_such_download": "No has pedido ninguna descarga de {name}",
    "cancel_unsupported": "Este servidor no puede cancelar descargas",
    "cancelling": "Cancelando la descarga de {name}",
    "interrupt_cancelling": "Cancelando la descarga de {name}; Ctrl-C otra vez para salir ya",
    "download_cancelled": "Descarga cancelada: {name}",
    "cancel_nothing": "No hay ninguna descarga tuya de {name} que cancelar",
    "client_help_cancel": "  cancel [ARCHIVO] detiene la descarga en curso o la de ARCHIVO (también Ctrl-C)",
    "client_help_reconnect": "  reconnect        vuelve a conectar ya (tras perder la conexión o un /kick)",
    "partial_gone": "la parte guardada de {name} ya no está o ha cambiado",
    "too_many_copies": "ya hay {count} copias de {name}",
    "more_than_announced": "más de los {size} bytes anunciados",
    "sha256_mismatch": "el SHA-256 no coincide",
    "bad_file_name": "nombre de archivo no válido",
    "file_shrank": "el archivo ha encogido",
    "os_ENOENT": "no existe",
    "os_EACCES": "permiso denegado",
    "os_EPERM": "operación no permitida",
    "os_EISDIR": "es una carpeta",
    "os_ENOTDIR": "una parte de la ruta no es una carpeta",
    "os_ENOSPC": "no queda espacio en el disco",
    "os_EDQUOT": "cuota de disco agotada",
    "os_EROFS": "sistema de archivos de solo lectura",
    "os_ENAMETOOLONG": "nombre demasiado largo",
    "os_ELOOP": "demasiados enlaces simbólicos",
    "os_EIO": "error de lectura o escritura en el disco",
    "os_EMFILE": "demasiados archivos abiertos",
    "os_ENFILE": "demasiados archivos abiertos en el sistema",
    "os_EEXIST": "ya existe",
    "os_EBUSY": "está en uso",
    "os_ETXTBSY": "está en uso",
    "os_ECONNREFUSED": "conexión rechazada (¿está el servidor en marcha?)",
    "os_ECONNRESET": "el servidor cortó la conexión",
    "os_ETIMEDOUT": "no hay respuesta (tiempo agotado)",
    "os_EHOSTUNREACH": "no se llega a ese ordenador",
    "os_ENETUNREACH": "no se llega a esa red",
    "os_EADDRNOTAVAIL": "dirección no disponible",
    "os_unknown_host": "nombre de ordenador desconocido",
    "os_other": "error del sistema {code}",
    # subdirectories and uploads (lab door)
    "current_dir": "Carpeta actual: {path}",
    "no_such_dir": "No existe la carpeta: {name}",
    "list_header_in": "Archivos en {path} ({count}):",
    "list_empty_in": "No hay archivos en {path}",
    "help_cd": "  cd CARPETA       entra en una carpeta (cd .. sube); pwd dice cuál",
    "help_put": "  put ARCHIVO      sube un archivo (si el servidor lo permite)",
    "uploads_off": "Este servidor no acepta subidas",
    "upload_busy": "Ya estás subiendo un archivo: espera a que termine",
    "usage_put": "Uso: put TAMAÑO SHA256 NOMBRE (el cliente lo envía por ti con put ARCHIVO)",
    "bad_upload_path": "No se puede subir a ese nombre: {name}",
    "upload_corrupt": "{name}: el tamaño o la suma SHA-256 no coinciden; no se guardó nada",
    "upload_unexpected_data": "Datos de subida sin un put aceptado: descartados",
    "bad_frame": "Trama no válida: se cierra la conexión",
    "usage_put_client": "Uso: put ARCHIVO (un archivo de este ordenador)",
    "put_cannot_read": "No se puede subir {path}: {reason}",
    "put_not_a_file": "no es un archivo normal",
    "upload_queued": "{name}: en cola, se subirá después de {ahead} subida(s)",
    "upload_started": "Subiendo {name} ({size})",
    "upload_saved": "Subido {path} ({size} en {seconds} s, {rate}/s, SHA-256 verificado por el servidor)",
    "upload_interrupted": "{name}: subida interrumpida, el servidor no guardó nada",
    "upload_file_changed": "{name} cambió mientras se subía: subida cancelada",
    "puts_failed": "Subidas fallidas: {count}",
    "name_rule": "Escribe un nombre: de 1 a 32 caracteres, sin espacios ni > @ !",
    "download_dir_not_a_directory": "no es un directorio",
    "stdout_closed": "la salida estándar está cerrada (para descartarla, usa >/dev/null)",
    # the server console
    "console_listening": (
        "Servidor {name} escuchando en {host}:{port}, sirviendo {root} (máximo {limit} clientes)"
    ),
    "console_no_name": "Hace falta un nombre para el servidor: usa --name o FTPLAB_NAME",
    "bad_root": "--root {root}: {reason}",
    "root_missing": "esa carpeta no existe (créala, o elige otra con --root o FTPLAB_ROOT)",
    "root_not_a_folder": "no es una carpeta (--root es la carpeta que se sirve)",
    "root_denied": "el servidor no tiene permiso para abrir esa carpeta",
    "cannot_listen": "No se puede escuchar en {host}:{port}: {reason}",
    # the FTP door (RFC 959 reply texts) and uploads
    "not_a_directory": "No es un directorio: {name}",
    "already_exists": "Ya existe: {name}",
    "upload_too_big": "Se ha superado el límite de subida: {name}",
    "disk_full": "No queda espacio suficiente para {name}",
    "upload_failed": "No se puede escribir {name}",
    "name_not_allowed": "Nombre de archivo no permitido (oculto o con caracteres de control): {name}",
    "folder_not_empty": "La carpeta no está vacía: {name}",
    "no_free_inodes": "El sistema de archivos no admite más entradas (sin inodos libres): {name}",
    "ftp_ready": "Servicio listo: servidor FTP ftplab.",
    "ftp_line_too_long": "Error de sintaxis: línea demasiado larga (máximo {limit} bytes).",
    "ftp_bad_encoding": "Error de sintaxis en los parámetros: la línea no es UTF-8 válido.",
    "ftp_too_many_queued": "Servicio no disponible: demasiados comandos durante una transferencia.",
    "ftp_not_implemented": "Comando no implementado.",
    "ftp_login_first": "No has iniciado sesión: usa USER y PASS.",
    "ftp_tls_off": "Este servidor no tiene TLS (arráncalo con --tls-cert y --tls-key).",
    "ftp_tls_already": "La conexión ya usa TLS.",
    "ftp_tls_before_login": "AUTH TLS va antes de USER.",
    "ftp_auth_unknown": "Mecanismo no soportado: {mechanism} (usa AUTH TLS).",
    "ftp_tls_starting": "Empieza la negociación TLS.",
    "ftp_tls_first": "Usa AUTH TLS primero.",
    "ftp_pbsz_first": "Usa PBSZ 0 primero.",
    "ftp_prot_unsupported": "Nivel de protección no soportado: {level} (usa C o P).",
    "ftp_prot_set": "Protección de datos: {level}.",
    "ftp_tls_required": (
        "Este servidor exige TLS: usa AUTH TLS antes de USER y PASS (la contraseña no viaja en claro)."
    ),
    "tls_required": "Este puerto habla TLS: conéctate con --tls",
    "ftp_syntax": "Error de sintaxis en los parámetros. Uso: {syntax}",
    "ftp_uploads_off": "Acción no realizada: las subidas están desactivadas en este servidor.",
    "ftp_already_logged_in": "Orden incorrecto de comandos: ya has iniciado sesión.",
    "ftp_need_password": "Nombre de usuario correcto, falta la contraseña.",
    "ftp_user_first": "Orden incorrecto de comandos: primero USER.",
    "ftp_login_incorrect": "No has iniciado sesión: usuario o contraseña incorrectos.",
    "ftp_too_many_failures": "Servicio no disponible: demasiados intentos fallidos.",
    "ftp_address_blocked": "Servicio no disponible: demasiados intentos fallidos desde tu dirección; "
    "vuelve a intentarlo dentro de {minutes} min.",
    "opt_masquerade_unresolved": "--masquerade-address {address}: no se encuentra su dirección IPv4 "
    "({error}); da una dirección IPv4 o un nombre que se resuelva en este equipo",
    "opt_masquerade_not_ipv4": "--masquerade-address {address}: PASV solo puede dar una dirección IPv4 "
    "(los clientes IPv6 usan EPSV, que no la necesita)",
    "opt_masquerade_unusable": "--masquerade-address {address}: no es una dirección a la que se "
    "pueda conectar",
    "opt_passive_ports_syntax": "--passive-ports {ports}: se espera un rango como 30000-30009 "
    "(o un solo puerto)",
    "opt_passive_ports_bounds": "--passive-ports {ports}: los puertos van de {low} a {high}, "
    "el primero no mayor que el último",
    "opt_passive_ports_own": "--passive-ports {ports}: incluye el puerto {port}, que el propio servidor usa",
    "ftp_logged_in": "Sesión iniciada, adelante. Hola, {name}.",
    "ftp_goodbye": "Cerrando la conexión de control. Adiós.",
    "ftp_noop": "Comando correcto.",
    "ftp_features": "Funciones:",
    "ftp_end": "Fin",
    "ftp_utf8": "Comando correcto: siempre en UTF-8.",
    "ftp_help_title": "Comandos reconocidos:",
    "ftp_help_end": "Ayuda correcta.",
    "ftp_syntax_help": "Uso: {syntax}",
    "ftp_parameter_not_implemented": "Comando no implementado para ese parámetro.",
    "ftp_type_set": "Comando correcto: tipo {type}.",
    "ftp_mode_set": "Comando correcto: modo {value}.",
    "ftp_structure_set": "Comando correcto: estructura {value}.",
    "ftp_current_directory": "{path} es el directorio actual.",
    "ftp_directory_changed": "Acción completada: directorio actual {path}.",
    "ftp_directory_up": "Comando correcto: directorio actual {path}.",
    "ftp_directory_created": "{path} creado.",
    "ftp_overwrite_off": (
        "Acción no realizada: borrar y reemplazar archivos está desactivado en este servidor."
    ),
    "ftp_deleted": "Acción completada: archivo borrado.",
    "ftp_directory_removed": "Acción completada: carpeta borrada.",
    "ftp_rename_ready": "Se necesita más información: envía RNTO con el nombre nuevo.",
    "ftp_rnfr_first": "Orden incorrecto de comandos: primero RNFR.",
    "ftp_renamed": "Acción completada: ahora se llama {path}.",
    "ftp_hash_unknown": "Algoritmo no soportado: solo {algorithm}.",
    "ftp_folder_limit": "Acción no realizada: demasiadas carpetas en esta conexión (máximo {limit}).",
    "ftp_folder_too_deep": "Acción no realizada: carpeta demasiado profunda (máximo {limit} niveles).",
    "ftp_listing": "Listado de {path}",
    "ftp_stat_title": "Estado del servidor FTP ftplab:",
    "ftp_stat_user": "Usuario {name}, directorio {path}",
    "ftp_stat_type": "Tipo {type}, modo S, estructura F",
    "ftp_stat_transfer": "Transferencia en curso",
    "ftp_stat_idle": "Ninguna transferencia en curso",
    "ftp_stat_end": "Fin del estado",
    "ftp_stat_of": "Estado de {path}:",
    "ftp_epsv_all": "Orden incorrecto de comandos: tras EPSV ALL solo vale EPSV.",
    "ftp_use_epsv": "No se puede abrir la conexión de datos: PASV necesita IPv4, usa EPSV.",
    "ftp_epsv_all_ok": "Comando correcto: EPSV ALL.",
    "ftp_network_protocol": "Protocolo de red no soportado, usa ({family}).",
    "ftp_extended_passive": "Entrando en modo pasivo extendido {port}.",
    "ftp_passive": "Entrando en modo pasivo {address}.",
    "ftp_no_data_connection": "No se puede abrir la conexión de datos.",
    "ftp_bounce": (
        "Error de sintaxis en los parámetros: PORT y EPRT solo a tu propia dirección, puerto desde 1024."
    ),
    "ftp_port_ok": "Comando correcto.",
    "ftp_use_pasv": "No se puede abrir la conexión de datos: usa antes PASV, EPSV, PORT o EPRT.",
    "ftp_listing_opening": "Estado correcto; se va a abrir la conexión de datos.",
    "ftp_restarting": "Reanudando en {offset}. Envía STORE o RETRIEVE para iniciar la transferencia.",
    "ftp_bad_restart": "Acción no realizada: parámetro REST no válido (el archivo tiene {size} bytes).",
    "ftp_opening": "Estado correcto; se va a abrir la conexión de datos: {name} ({size} bytes, modo {kind}).",
    "ftp_no_upload_restart": (
        "Acción no realizada: parámetro REST no válido (las subidas empiezan en 0; usa APPE)."
    ),
    "ftp_receiving": "Estado correcto; se va a abrir la conexión de datos para {name}.",
    "ftp_transfer_aborted": "Conexión cerrada; transferencia interrumpida.",
    "ftp_abort_ok": "Cerrando la conexión de datos: interrupción correcta.",
    "ftp_transfer_complete": "Cerrando la conexión de datos. Acción completada.",
    "ftp_local_error": "Acción interrumpida: error local al procesarla.",
    # --help of both programs
    "usage_prefix": "uso: ",
    "options_title": "opciones",
    "ftp_options_title": "la puerta FTP (RFC 959) y las subidas",
    "option_default": "[{variable}; ahora: {value}]",
    "default_none": "ninguno",
    "server_description": (
        "Servidor de archivos multiusuario con chat, basado en select. Lo que se escribe en su consola "
        "va a todos los clientes."
    ),
    "client_description": "El cliente de ftplab: archivos y chat de un servidor ftplab.",
    "session_commands_title": "Comandos dentro de la sesión:",
    "help_clear": "  clear            borra la pantalla (también Ctrl-L)",
    "client_help_list": "  list [CARPETA]   los archivos del servidor, o de CARPETA (también ls, dir)",
    "client_help_get": "  get ARCHIVO ...  descarga uno o varios archivos (get a.txt b.txt)",
    "client_help_mget": "  mget PATRÓN ...  descarga los que coinciden (mget *.pdf, mget tema1/*.pdf)",
    "client_help_quit": "  quit             salir (también exit, bye, Ctrl-D)",
    "usage_mget": "Uso: mget PATRÓN... (por ejemplo mget *.pdf)",
    "opt_help": "muestra esta ayuda y termina",
    "opt_version": "muestra la versión y termina",
    "opt_lang": "idioma: es o en (por defecto, el de FTPLAB_LANG o el del sistema)",
    "opt_server_host": "dirección en la que escuchar",
    "opt_client_host": "el servidor",
    "opt_port": "puerto",
    "opt_root": "directorio cuyos archivos se sirven",
    "opt_server_name": "el nombre del servidor en el chat (si falta, se pregunta)",
    "opt_client_name": "tu nombre en el chat (si falta, se pregunta)",
    "opt_max_clients": "clientes a la vez, al menos 1",
    "opt_max_per_ip": "clientes a la vez desde una dirección, 0 sin límite",
    "opt_idle_timeout": (
        "segundos sin nada del cliente antes de desconectarlo, 0 lo desactiva (el cliente de ftplab "
        "envía una señal de vida cada tercio de este tiempo)"
    ),
    "opt_data_timeout": (
        "segundos que la salida puede esperar sin leerse antes de desconectar, 0 lo desactiva"
    ),
    "opt_join_timeout": "segundos que tiene una conexión nueva para enviar su nombre, 0 lo desactiva",
    "opt_log_level": "nivel del registro",
    "opt_log_file": (
        "escribe el registro completo también en este archivo (en un terminal, la consola muestra "
        "solo conexiones, avisos y errores)"
    ),
    "opt_selector": (
        "cómo espera el bucle: best (epoll en Linux), select (hasta 1024 descriptores), poll, epoll"
    ),
    "opt_ftp_port": "habla también FTP en este puerto, en el mismo bucle",
    "opt_ftp_password": "una contraseña que deben dar todos los usuarios FTP",
    "opt_tls_cert": (
        "certificado (PEM, con su cadena) para hablar TLS: el puerto del laboratorio solo habla TLS "
        "y el de FTP ofrece AUTH TLS"
    ),
    "opt_tls_key": "clave privada (PEM) del certificado",
    "opt_require_tls": "rechaza los inicios de sesión FTP en claro",
    "opt_ftps_port": (
        "puerto FTPS implícito (TLS desde el primer byte, como ftps:// de curl; 990 es el habitual); "
        "sin él, no se escucha"
    ),
    "tls_options_incomplete": (
        "--tls-cert y --tls-key van juntos, y --require-tls y --ftps-port los necesitan"
    ),
    "bad_tls_files": "no se pueden cargar el certificado o la clave TLS: {reason}",
    "tls_key_encrypted": (
        "la clave está cifrada y el servidor no puede pedir la contraseña; "
        "descífrala con: openssl pkey -in CLAVE -out CLAVE-NUEVA"
    ),
    "opt_tls": (
        "habla TLS con el servidor, verificando su certificado con las CA del sistema; en un terminal, "
        "uno que no puedan verificar se puede aceptar viendo su huella (se recuerda en "
        "$XDG_CONFIG_HOME/ftplab/known_hosts)"
    ),
    "opt_ca": "archivo PEM con la CA que firma el certificado del servidor (implica --tls)",
    "opt_fingerprint": "SHA-256 del certificado del servidor en el que confiar (implica --tls)",
    "opt_passive_ports": "puertos para las conexiones de datos pasivas, p. ej. 30000-30009",
    "opt_masquerade_address": "la dirección IPv4 que dar en las respuestas PASV (detrás de NAT)",
    "opt_allow_upload": "acepta subidas (FTP STOR, APPE, MKD)",
    "opt_allow_overwrite": "deja que las subidas reemplacen y que DELE borre archivos",
    "opt_max_upload_bytes": "la subida más grande aceptada, en bytes (admite K, M y G: 2M)",
    "opt_download_dir": "dónde se guardan las descargas",
    "opt_timeout": "segundos para conectar y recibir la bienvenida del servidor",
    "opt_reconnect": (
        "vuelve a conectar solo si se pierde la conexión (yes, no o auto: auto es sí en un "
        "terminal y no si la entrada viene de una tubería)"
    ),
    "opt_keep_partial": (
        "guarda lo recibido de una descarga interrumpida (con un nombre oculto) y get la continúa"
    ),
    "max_clients_zero": (
        "--max-clients debe ser al menos 1: con 0 no entraría nadie "
        "(en --max-per-ip, 0 sí significa sin límite)"
    ),
    # --- accounts (--users) ---
    "accounts_options_title": "cuentas",
    "opt_users": (
        "archivo de cuentas (lo crea ftplab-server users add NOMBRE): solo ellas entran, "
        "con su contraseña y sus permisos, por las dos puertas"
    ),
    "opt_allow_clear_passwords": "acepta contraseñas de cuentas sin TLS (el ejercicio de Wireshark)",
    "bad_users_file": "archivo de cuentas no válido: {reason}",
    "users_file_readable": "el archivo de cuentas {path} lo pueden leer otros usuarios (chmod 600 {path})",
    "users_description": "Gestiona el archivo de cuentas (--users) de ftplab-server.",
    "users_opt_file": "el archivo de cuentas",
    "users_opt_rights": "permisos de la cuenta: download, upload, overwrite separados por comas, o -",
    "users_cmd_add": "crea la cuenta NOMBRE (o le cambia la contraseña y los permisos)",
    "users_cmd_remove": "borra la cuenta NOMBRE",
    "users_cmd_list": "muestra las cuentas y sus permisos (nunca sus hashes)",
    "users_no_file": "di el archivo de cuentas con --users ARCHIVO o FTPLAB_USERS",
    "users_bad_name": "nombre no válido: {name}",
    "users_bad_rights": "permisos no válidos: {reason}",
    "ask_new_password": "Contraseña para {name}: ",
    "ask_new_password_again": "Repítela: ",
    "users_passwords_differ": "las contraseñas no coinciden; no se ha cambiado nada",
    "users_empty_password": "la contraseña no puede estar vacía; no se ha cambiado nada",
    "users_added": "cuenta {name} guardada en {path} (permisos: {rights})",
    "users_removed": "cuenta {name} borrada de {path}",
    "users_no_such": "no hay ninguna cuenta {name} en {path}",
    "users_none": "(ninguna cuenta)",
    "users_cannot_write": "no se puede escribir {path}: {reason}",
    "downloads_off": "Tu cuenta no puede descargar archivos",
    "account_no_upload": "Tu cuenta no puede subir archivos",
    "password_required": (
        "Este servidor pide contraseña: actualiza tu cliente ftplab (hace falta el protocolo {version})"
    ),
    "password_expected": "Se esperaba la contraseña",
    "password_not_now": "No se ha pedido ninguna contraseña: esa línea no se ha enviado a nadie",
    "bad_password": "Nombre o contraseña incorrectos",
    "logins_blocked": (
        "Demasiados intentos fallidos desde tu dirección; vuelve a intentarlo dentro de {minutes} min"
    ),
    "clear_password_refused": (
        "Este servidor no acepta contraseñas sin cifrar y su puerta no habla TLS "
        "(el servidor necesita --tls-cert, o --allow-clear-passwords)"
    ),
    "ftp_downloads_off": "Acción no realizada: tu cuenta no puede descargar archivos.",
    "ftp_no_anonymous": "No se admiten inicios de sesión anónimos: este servidor usa cuentas.",
    "ftp_clear_password_refused": (
        "Este servidor no acepta contraseñas en claro: usa AUTH TLS antes de USER (FTPS explícito)."
    ),
    "ftp_clear_password_no_tls": (
        "Este servidor no acepta contraseñas en claro y no tiene TLS "
        "(el servidor necesita --tls-cert, o --allow-clear-passwords)."
    ),
    "opt_password_file": (
        "archivo cuya primera línea es la contraseña de tu cuenta, si el servidor la pide "
        "(también FTPLAB_PASSWORD); sin él, se pregunta sin eco"
    ),
    "ask_password": "Contraseña de {name}: ",
    "password_not_asked": (
        "el servidor pide contraseña y la entrada no es un terminal: dala con --password-file "
        "o FTPLAB_PASSWORD"
    ),
    "password_file_unreadable": "--password-file {path}: {reason}",
    "password_too_long": "la contraseña es demasiado larga para enviarla",
    "typeahead_not_sent": (
        "Lo que escribiste antes de que se pidiera la contraseña no se ha enviado (podría ser la "
        "contraseña): escríbelo de nuevo cuando hayas entrado."
    ),
}

ENGLISH = {
    "welcome": "Hello, {name}. Connected: {count}. Type help for the commands.",
    "joined": "{name} joined",
    "left": "{name} left",
    "joined_many": "{names} and {count} more joined",
    "uploaded": "{name} uploaded {path} ({size})",
    "renamed": "{name} renamed {old} to {new}",
    "not_in_chat": "{name} is connected through FTP and gets no messages",
    "left_many": "{names} and {count} more left",
    "joined_more": "{count} more joined in the last {seconds} s",
    "left_more": "{count} more left in the last {seconds} s",
    "no_such_file": "No such file",
    "no_such_file_named": "No such file: {name}",
    "not_a_file": "Not a file that can be downloaded: {name}",
    "unreadable_file": "Cannot read the file: {name}",
    "ambiguous_file_name": (
        "Several files are spelt {name} in different Unicode forms, and none is exactly that name"
    ),
    "transfer_aborted": "Transfer interrupted: {name}",
    "download_queue_full": "You already have too many downloads queued: wait for them ({name} was not added)",
    "server_out_of_resources": "The server cannot open files right now: try again later ({name})",
    "list_failed": "The server cannot read its directory right now: try again later",
    "folder_read_failed": "The folder {name} could not be read to its end: try again later",
    "server_busy": "The server is busy (out of resources): try again later",
    "evicted_no_name": "Server full: this connection sent no name and makes room for another",
    "list_header": "Files on the server ({count}):",
    "list_empty": "There are no files on the server",
    "who": "Connected ({count}): {names}; server: {server}",
    "private": "(private) {text}",
    "who_nobody": "Connected (0); server: {server}",
    "kicked": "{name} disconnected you",
    "kicked_because": "{name} disconnected you: {reason}",
    "usage_kick": "Usage: /kick NAME [reason]",
    "console_kicked": "{name} disconnected",
    "console_help_title": "Console commands:",
    "console_help_who": "  /who                 who is connected",
    "console_help_kick": "  /kick NAME [reason]  disconnect NAME, telling them why",
    "console_help_quit": "  /quit                stop the server (everyone is told)",
    "console_help_history": "  /history             show the latest messages again",
    "console_help_private": "  @NAME text           private message",
    "console_help_chat": "  anything else is a message to everyone (//text: one that starts with /)",
    "console_unknown_command": "There is no command {command} (nothing was sent): type /help",
    "console_history_empty": "Nothing has been said yet",
    "console_ftp_door": "FTP door at {host}:{port}",
    "console_ftps_door": "FTPS door (implicit TLS) at {host}:{port}",
    "console_tls": "TLS: the certificate's SHA-256 fingerprint is {fingerprint} (tell the students)",
    "console_accounts": "Accounts: only those in {path} may log in",
    "console_server_away": "The server stopped: waiting for it to come back (Ctrl-C leaves)",
    "console_server_back": "The server is back",
    "console_server_gone": "The server did not come back in {seconds} s: scripts/lab status says why",
    "earlier_line": "(earlier) {name}> {text}",
    "console_sent": "{name} downloaded {path} ({size})",
    "console_upload_failed": "{name}'s upload failed: {reason}",
    "console_send_failed": "Sending {path} to {name} failed: {reason}",
    "console_file_changed": "the file changed while it was being sent",
    "console_chat_flood": "{name} writes too fast: their lines are being dropped",
    "no_such_user": "Nobody called {name} is connected",
    "usage_get": "Usage: get FILENAME",
    "no_match": "No file matches {pattern}",
    "pattern_too_long": "Pattern too long: at most {limit} characters",
    "pattern_unclosed_bracket": (
        "A [ is never closed in the pattern {pattern}: close it with ], or write [[] for a ["
    ),
    "pattern_too_costly": (
        "The pattern {pattern} costs too much to match against this folder: make it simpler"
    ),
    "mget_queue_full": (
        "You already have too many downloads queued: {count} files were not added, from {name} on "
        "(ask for them when the others are done)"
    ),
    "download_queued_by_server": "{name}: queued",
    "usage_resume": "Usage: resume BYTES SHA256_OF_THOSE_BYTES FILENAME",
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
    "tls_bad_ca": "Cannot read the CA {path}: {reason}",
    "tls_handshake_failed": "The server does not speak TLS, or the handshake failed: {reason}",
    "tls_untrusted": (
        "Cannot verify the certificate of {host} ({reason}): connection refused. "
        "Its SHA-256 fingerprint is {fingerprint}. If it is the server's (ask the teacher), "
        "connect with --fingerprint {fingerprint}, or with --ca and the class's CA"
    ),
    "tls_fingerprint_changed": (
        "The server's certificate has changed! Expected {expected}, the server shows {seen}: "
        "connection refused (someone could be posing as the server)"
    ),
    "tls_first_use": (
        "Cannot verify the certificate of {server} ({reason}).\n"
        "Its SHA-256 fingerprint is:\n  {fingerprint}\n"
        "Trust it only if it is the one your teacher gave you "
        "(the server writes it in its log at start)."
    ),
    "tls_trust_question": "Trust this server and remember it? (yes/no): ",
    "tls_yes_or_no": "Please answer yes or no.",
    "tls_not_trusted": "You do not trust {server}: connection cancelled",
    "tls_trust_stored": "Fingerprint saved in {path}: you will not be asked next time.",
    "tls_trust_not_stored": (
        "Could not save the fingerprint in {path} ({reason}): it is trusted until you leave."
    ),
    "tls_known_hosts_unreadable": "Cannot read {path} ({reason}): ignored.",
    "tls_untrusted_piped": (
        "Cannot verify the certificate of {server} ({reason}), and without a terminal nobody can be "
        "asked whether to trust it: connection refused. Its SHA-256 fingerprint is {fingerprint}; "
        "use --ca with the class's CA, or --fingerprint {fingerprint} if it is the server's"
    ),
    "tls_known_host_changed": (
        "WARNING! THE CERTIFICATE OF {server} HAS CHANGED! Connection refused.\n"
        "Someone could be pretending to be the server (or the teacher renewed it).\n"
        "Saved fingerprint:     {expected}\nFingerprint presented: {seen}\n"
        "If the change is legitimate, delete line {line} of {path} and connect again."
    ),
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
    "download_interrupted_kept": (
        "{name}: download interrupted at {percent} %; what arrived is kept: get {name} continues it"
    ),
    "download_resumed": "Continuing {name} from {offset} ({size} in all)",
    "download_not_asked": "Download refused: {name} was not asked for",
    "partial_set_aside": (
        "Warning: what is at the name of {name}'s partial download is not a file of yours "
        "(a link, another kind of file, or a file with another name): set aside as {path}, "
        "downloading it whole"
    ),
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
    # the client coming back by itself, cancelling, and the system's errors in words
    "reconnecting_lost": "The connection to the server was lost: reconnecting (quit to leave)",
    "reconnecting_closed": "The server closed the connection ({text}): reconnecting (quit to leave)",
    "reconnect_waiting": "[not connected: attempt {attempt} in {seconds} s; reconnect tries now]",
    "reconnected": "Connected again as {name}",
    "cannot_connect_retrying": "{reason}: trying again (quit to leave)",
    "kicked_staying": (
        "The server closed the connection: {text}. It does not reconnect by itself: "
        "reconnect to come back, quit to leave"
    ),
    "not_connected": "Not connected to the server: not sent (reconnect to try now, quit to leave)",
    "already_connected": "You are connected",
    "download_will_resume": "{name}: download interrupted at {percent} %; it goes on once connected again",
    "name_taken_ask_again": "The name {name} is in use: choose another",
    "nothing_to_cancel": "There is no download to cancel",
    "no_such_download": "You asked for no download of {name}",
    "cancel_unsupported": "This server cannot cancel downloads",
    "cancelling": "Cancelling the download of {name}",
    "interrupt_cancelling": "Cancelling the download of {name}; Ctrl-C again to leave now",
    "download_cancelled": "Download cancelled: {name}",
    "cancel_nothing": "You have no download of {name} to cancel",
    "client_help_cancel": "  cancel [FILE]    stop the download under way, or FILE's (Ctrl-C too)",
    "client_help_reconnect": "  reconnect        connect again now (after a lost connection or a /kick)",
    "partial_gone": "the kept part of {name} is gone or changed",
    "too_many_copies": "{count} copies of {name} already exist",
    "more_than_announced": "more than the {size} bytes announced",
    "sha256_mismatch": "the SHA-256 does not match",
    "bad_file_name": "not a valid file name",
    "file_shrank": "the file shrank",
    "os_ENOENT": "no such file",
    "os_EACCES": "permission denied",
    "os_EPERM": "operation not permitted",
    "os_EISDIR": "it is a folder",
    "os_ENOTDIR": "part of the path is not a folder",
    "os_ENOSPC": "no space left on the disk",
    "os_EDQUOT": "disk quota exceeded",
    "os_EROFS": "read-only file system",
    "os_ENAMETOOLONG": "name too long",
    "os_ELOOP": "too many symbolic links",
    "os_EIO": "input/output error on the disk",
    "os_EMFILE": "too many open files",
    "os_ENFILE": "too many open files in the system",
    "os_EEXIST": "it already exists",
    "os_EBUSY": "it is in use",
    "os_ETXTBSY": "it is in use",
    "os_ECONNREFUSED": "connection refused (is the server running?)",
    "os_ECONNRESET": "the server cut the connection",
    "os_ETIMEDOUT": "no answer (timed out)",
    "os_EHOSTUNREACH": "that computer cannot be reached",
    "os_ENETUNREACH": "that network cannot be reached",
    "os_EADDRNOTAVAIL": "address not available",
    "os_unknown_host": "unknown host name",
    "os_other": "system error {code}",
    # subdirectories and uploads (lab door)
    "current_dir": "Current folder: {path}",
    "no_such_dir": "No such folder: {name}",
    "list_header_in": "Files in {path} ({count}):",
    "list_empty_in": "There are no files in {path}",
    "help_cd": "  cd FOLDER        go into a folder (cd .. goes up); pwd says which",
    "help_put": "  put FILE         upload a file (if the server allows it)",
    "uploads_off": "This server does not accept uploads",
    "upload_busy": "You are already uploading a file: wait until it ends",
    "usage_put": "Usage: put SIZE SHA256 NAME (the client sends it for you with put FILE)",
    "bad_upload_path": "Cannot upload to that name: {name}",
    "upload_corrupt": "{name}: the size or the SHA-256 do not match; nothing was saved",
    "upload_unexpected_data": "Upload data without an accepted put: discarded",
    "bad_frame": "Invalid frame: closing the connection",
    "usage_put_client": "Usage: put FILE (a file on this computer)",
    "put_cannot_read": "Cannot upload {path}: {reason}",
    "put_not_a_file": "not a regular file",
    "upload_queued": "{name}: queued, it will go after {ahead} upload(s)",
    "upload_started": "Uploading {name} ({size})",
    "upload_saved": "Uploaded {path} ({size} in {seconds} s, {rate}/s, SHA-256 verified by the server)",
    "upload_interrupted": "{name}: upload interrupted, the server kept nothing",
    "upload_file_changed": "{name} changed while being uploaded: upload cancelled",
    "puts_failed": "Failed uploads: {count}",
    "name_rule": "Type a name: 1 to 32 characters, no spaces, no > @ !",
    "download_dir_not_a_directory": "not a directory",
    "stdout_closed": "standard output is closed (to discard it, use >/dev/null)",
    "console_listening": "Server {name} listening on {host}:{port}, serving {root} (at most {limit} clients)",
    "console_no_name": "The server needs a name: use --name or FTPLAB_NAME",
    "bad_root": "--root {root}: {reason}",
    "root_missing": "that folder does not exist (create it, or choose another with --root or FTPLAB_ROOT)",
    "root_not_a_folder": "not a folder (--root is the folder to serve)",
    "root_denied": "the server may not open that folder",
    "cannot_listen": "Cannot listen on {host}:{port}: {reason}",
    "not_a_directory": "Not a directory: {name}",
    "already_exists": "Already exists: {name}",
    "upload_too_big": "Exceeded storage allocation: {name} is over the upload limit",
    "disk_full": "Insufficient storage space for {name}",
    "upload_failed": "Cannot write {name}",
    "name_not_allowed": "File name not allowed (hidden, or with control characters): {name}",
    "folder_not_empty": "Folder not empty: {name}",
    "no_free_inodes": "The file system takes no more entries (no free inodes): {name}",
    "ftp_ready": "Service ready for new user: ftplab FTP server.",
    "ftp_line_too_long": "Syntax error, command unrecognized: line too long (at most {limit} bytes).",
    "ftp_bad_encoding": "Syntax error in parameters or arguments: the line is not valid UTF-8.",
    "ftp_too_many_queued": "Service not available: too many commands during a transfer.",
    "ftp_not_implemented": "Command not implemented.",
    "ftp_login_first": "Not logged in: use USER and PASS first.",
    "ftp_tls_off": "This server has no TLS (start it with --tls-cert and --tls-key).",
    "ftp_tls_already": "The connection already uses TLS.",
    "ftp_tls_before_login": "AUTH TLS comes before USER.",
    "ftp_auth_unknown": "Mechanism not supported: {mechanism} (use AUTH TLS).",
    "ftp_tls_starting": "Starting TLS negotiation.",
    "ftp_tls_first": "Use AUTH TLS first.",
    "ftp_pbsz_first": "Use PBSZ 0 first.",
    "ftp_prot_unsupported": "Protection level not supported: {level} (use C or P).",
    "ftp_prot_set": "Data protection: {level}.",
    "ftp_tls_required": "This server requires TLS: use AUTH TLS before USER and PASS (no password in clear).",
    "tls_required": "This port speaks TLS: connect with --tls",
    "ftp_syntax": "Syntax error in parameters or arguments. Usage: {syntax}",
    "ftp_uploads_off": "Requested action not taken: uploads are disabled on this server.",
    "ftp_already_logged_in": "Bad sequence of commands: already logged in.",
    "ftp_need_password": "User name okay, need password.",
    "ftp_user_first": "Bad sequence of commands: send USER first.",
    "ftp_login_incorrect": "Not logged in: login incorrect.",
    "ftp_too_many_failures": "Service not available: too many failed logins.",
    "ftp_address_blocked": "Service not available: too many failed logins from your address; "
    "try again in {minutes} min.",
    "opt_masquerade_unresolved": "--masquerade-address {address}: no IPv4 address found ({error}); "
    "give an IPv4 address or a name this machine can resolve",
    "opt_masquerade_not_ipv4": "--masquerade-address {address}: PASV can only give an IPv4 address "
    "(IPv6 clients use EPSV, which needs none)",
    "opt_masquerade_unusable": "--masquerade-address {address}: not an address anyone can connect to",
    "opt_passive_ports_syntax": "--passive-ports {ports}: expected a range such as 30000-30009 (or one port)",
    "opt_passive_ports_bounds": "--passive-ports {ports}: ports go from {low} to {high}, the first no higher "
    "than the last",
    "opt_passive_ports_own": "--passive-ports {ports}: holds port {port}, which the server itself uses",
    "ftp_logged_in": "User logged in, proceed. Hello, {name}.",
    "ftp_goodbye": "Service closing control connection. Goodbye.",
    "ftp_noop": "Command okay.",
    "ftp_features": "Features:",
    "ftp_end": "End",
    "ftp_utf8": "Command okay: always in UTF-8 mode.",
    "ftp_help_title": "The following commands are recognized:",
    "ftp_help_end": "Help OK.",
    "ftp_syntax_help": "Syntax: {syntax}",
    "ftp_parameter_not_implemented": "Command not implemented for that parameter.",
    "ftp_type_set": "Command okay: type set to {type}.",
    "ftp_mode_set": "Command okay: mode set to {value}.",
    "ftp_structure_set": "Command okay: structure set to {value}.",
    "ftp_current_directory": "{path} is the current directory.",
    "ftp_directory_changed": "Requested file action okay, completed: directory changed to {path}.",
    "ftp_directory_up": "Command okay: directory changed to {path}.",
    "ftp_directory_created": "{path} created.",
    "ftp_overwrite_off": (
        "Requested action not taken: deleting and replacing files is disabled on this server."
    ),
    "ftp_deleted": "Requested file action okay, completed: file deleted.",
    "ftp_directory_removed": "Requested file action okay, completed: folder removed.",
    "ftp_rename_ready": "Requested file action pending further information: send RNTO with the new name.",
    "ftp_rnfr_first": "Bad sequence of commands: send RNFR first.",
    "ftp_renamed": "Requested file action okay, completed: now named {path}.",
    "ftp_hash_unknown": "Algorithm not supported: only {algorithm}.",
    "ftp_folder_limit": (
        "Requested action not taken: too many folders made on this connection (at most {limit})."
    ),
    "ftp_folder_too_deep": "Requested action not taken: folder too deep (at most {limit} levels).",
    "ftp_listing": "Listing {path}",
    "ftp_stat_title": "ftplab FTP server status:",
    "ftp_stat_user": "User {name}, directory {path}",
    "ftp_stat_type": "Type {type}, mode S, structure F",
    "ftp_stat_transfer": "A transfer is in progress",
    "ftp_stat_idle": "No transfer in progress",
    "ftp_stat_end": "End of status",
    "ftp_stat_of": "Status of {path}:",
    "ftp_epsv_all": "Bad sequence of commands: after EPSV ALL only EPSV is accepted.",
    "ftp_use_epsv": "Can't open data connection: PASV needs IPv4, use EPSV.",
    "ftp_epsv_all_ok": "Command okay: EPSV ALL.",
    "ftp_network_protocol": "Network protocol not supported, use ({family}).",
    "ftp_extended_passive": "Entering Extended Passive Mode {port}.",
    "ftp_passive": "Entering Passive Mode {address}.",
    "ftp_no_data_connection": "Can't open data connection.",
    "ftp_bounce": (
        "Syntax error in parameters or arguments: PORT and EPRT only to your own address, port 1024 up."
    ),
    "ftp_port_ok": "Command okay.",
    "ftp_use_pasv": "Can't open data connection: use PASV, EPSV, PORT or EPRT first.",
    "ftp_listing_opening": "File status okay; about to open data connection.",
    "ftp_restarting": "Restarting at {offset}. Send STORE or RETRIEVE to initiate transfer.",
    "ftp_bad_restart": "Requested action not taken: invalid REST parameter (the file has {size} bytes).",
    "ftp_opening": "File status okay; about to open data connection: {name} ({size} bytes, {kind} mode).",
    "ftp_no_upload_restart": (
        "Requested action not taken: invalid REST parameter (uploads start at 0; use APPE)."
    ),
    "ftp_receiving": "File status okay; about to open data connection for {name}.",
    "ftp_transfer_aborted": "Connection closed; transfer aborted.",
    "ftp_abort_ok": "Closing data connection: abort successful.",
    "ftp_transfer_complete": "Closing data connection. Requested file action successful.",
    "ftp_local_error": "Requested action aborted: local error in processing.",
    # --help of both programs
    "usage_prefix": "usage: ",
    "options_title": "options",
    "ftp_options_title": "the FTP door (RFC 959) and uploads",
    "option_default": "[{variable}; now: {value}]",
    "default_none": "none",
    "server_description": (
        "A select-based multi-user file server with chat. What is typed at its console goes to every client."
    ),
    "client_description": "The ftplab client: files and chat from an ftplab server.",
    "session_commands_title": "Commands in the session:",
    "help_clear": "  clear            clear the screen (Ctrl-L too)",
    "client_help_list": "  list [FOLDER]    the server's files, or FOLDER's (ls, dir too)",
    "client_help_get": "  get FILE ...     download one or more files (get a.txt b.txt)",
    "client_help_mget": "  mget PATTERN ... download the files that match (mget *.pdf, mget tema1/*.pdf)",
    "client_help_quit": "  quit             leave (exit, bye, Ctrl-D too)",
    "usage_mget": "Usage: mget PATTERN... (for example mget *.pdf)",
    "opt_help": "show this help and exit",
    "opt_version": "show the version and exit",
    "opt_lang": "language: es or en (by default FTPLAB_LANG's, else the system's)",
    "opt_server_host": "address to listen on",
    "opt_client_host": "the server",
    "opt_port": "port",
    "opt_root": "directory whose files are served",
    "opt_server_name": "the server's name in the chat (asked when missing)",
    "opt_client_name": "your name in the chat (asked when missing)",
    "opt_max_clients": "clients at once, at least 1",
    "opt_max_per_ip": "clients at once from one address, 0 for no limit",
    "opt_idle_timeout": (
        "seconds with nothing from a client before it is disconnected, 0 disables (the ftplab client "
        "sends a keep-alive every third of this)"
    ),
    "opt_data_timeout": "seconds output may sit unread before the client is dropped, 0 disables",
    "opt_join_timeout": "seconds a new connection has to send its name, 0 disables",
    "opt_log_level": "log level",
    "opt_log_file": (
        "also write the full log to this file (on a terminal, the console shows only connections, "
        "warnings and errors)"
    ),
    "opt_selector": (
        "how the loop waits: best (epoll on Linux), select (at most 1024 descriptors), poll, epoll"
    ),
    "opt_ftp_port": "also speak FTP on this port, in the same loop",
    "opt_ftp_password": "one password every FTP user must give",
    "opt_tls_cert": (
        "certificate (PEM, with its chain) to speak TLS: the lab port speaks only TLS, "
        "the FTP door offers AUTH TLS"
    ),
    "opt_tls_key": "the certificate's private key (PEM)",
    "opt_require_tls": "refuse FTP logins in clear",
    "opt_ftps_port": (
        "implicit FTPS port (TLS from the first byte, like curl's ftps://; 990 is the usual one); "
        "without it, none is opened"
    ),
    "tls_options_incomplete": (
        "--tls-cert and --tls-key go together, and --require-tls and --ftps-port need them"
    ),
    "bad_tls_files": "cannot load the TLS certificate or key: {reason}",
    "tls_key_encrypted": (
        "the key is encrypted and the server cannot ask for its passphrase; "
        "decrypt it with: openssl pkey -in KEY -out NEW-KEY"
    ),
    "opt_tls": (
        "speak TLS with the server, verifying its certificate with the system's CAs; at a terminal, "
        "one they cannot verify may be accepted after seeing its fingerprint (remembered in "
        "$XDG_CONFIG_HOME/ftplab/known_hosts)"
    ),
    "opt_ca": "PEM file with the CA that signs the server's certificate (implies --tls)",
    "opt_fingerprint": "SHA-256 of the server certificate to trust (implies --tls)",
    "opt_passive_ports": "ports for passive data connections, e.g. 30000-30009",
    "opt_masquerade_address": "the IPv4 address to give in PASV replies (behind NAT)",
    "opt_allow_upload": "accept uploads (FTP STOR, APPE, MKD)",
    "opt_allow_overwrite": "let uploads replace and DELE delete existing files",
    "opt_max_upload_bytes": "the largest upload accepted, in bytes (K, M and G allowed: 2M)",
    "opt_download_dir": "where downloads are saved",
    "opt_timeout": "seconds to connect and to be welcomed by the server",
    "opt_reconnect": (
        "connect again by itself when the connection is lost (yes, no or auto: auto is yes at "
        "a terminal, no when input comes from a pipe)"
    ),
    "opt_keep_partial": (
        "keep what arrived of an interrupted download (under a hidden name); get continues it"
    ),
    "max_clients_zero": (
        "--max-clients must be at least 1: with 0 nobody could join (for --max-per-ip, 0 does mean no limit)"
    ),
    # --- accounts (--users) ---
    "accounts_options_title": "accounts",
    "opt_users": (
        "accounts file (ftplab-server users add NAME makes it): only these accounts log in, "
        "with their passwords and rights, through both doors"
    ),
    "opt_allow_clear_passwords": "accept account passwords without TLS (the Wireshark exercise)",
    "bad_users_file": "unusable accounts file: {reason}",
    "users_file_readable": "the accounts file {path} is readable by other users (chmod 600 {path})",
    "users_description": "Manage ftplab-server's accounts file (--users).",
    "users_opt_file": "the accounts file",
    "users_opt_rights": "the account's rights: download, upload, overwrite separated by commas, or -",
    "users_cmd_add": "make the account NAME (or change its password and rights)",
    "users_cmd_remove": "delete the account NAME",
    "users_cmd_list": "show the accounts and their rights (never their hashes)",
    "users_no_file": "give the accounts file with --users FILE or FTPLAB_USERS",
    "users_bad_name": "not a valid name: {name}",
    "users_bad_rights": "bad rights: {reason}",
    "ask_new_password": "Password for {name}: ",
    "ask_new_password_again": "Again: ",
    "users_passwords_differ": "the passwords differ; nothing was changed",
    "users_empty_password": "the password cannot be empty; nothing was changed",
    "users_added": "account {name} saved in {path} (rights: {rights})",
    "users_removed": "account {name} deleted from {path}",
    "users_no_such": "there is no account {name} in {path}",
    "users_none": "(no accounts)",
    "users_cannot_write": "cannot write {path}: {reason}",
    "downloads_off": "Your account may not download files",
    "account_no_upload": "Your account may not upload files",
    "password_required": (
        "This server asks for a password: update your ftplab client (protocol {version} needed)"
    ),
    "password_expected": "A password was expected",
    "password_not_now": "No password was asked for: that line was sent to nobody",
    "bad_password": "Wrong name or password",
    "logins_blocked": "Too many failed logins from your address; try again in {minutes} min",
    "clear_password_refused": (
        "This server accepts no password in clear and its door speaks no TLS "
        "(the server needs --tls-cert, or --allow-clear-passwords)"
    ),
    "ftp_downloads_off": "Requested action not taken: your account may not download files.",
    "ftp_no_anonymous": "Anonymous logins are not allowed: this server uses accounts.",
    "ftp_clear_password_refused": (
        "This server accepts no password in clear: use AUTH TLS before USER (explicit FTPS)."
    ),
    "ftp_clear_password_no_tls": (
        "This server accepts no password in clear and has no TLS "
        "(the server needs --tls-cert, or --allow-clear-passwords)."
    ),
    "opt_password_file": (
        "file whose first line is your account's password, if the server asks for one "
        "(also FTPLAB_PASSWORD); without it, it is asked for without echo"
    ),
    "ask_password": "Password for {name}: ",
    "password_not_asked": (
        "the server asks for a password and input is not a terminal: give it with --password-file "
        "or FTPLAB_PASSWORD"
    ),
    "password_file_unreadable": "--password-file {path}: {reason}",
    "password_too_long": "the password is too long to send",
    "typeahead_not_sent": (
        "What you typed before the password was asked for was not sent (it could be the "
        "password): type it again once you are in."
    ),
}

CATALOGUES = {"es": SPANISH, "en": ENGLISH}
CONSOLE_HELP_KEYS = (
    "console_help_title",
    "console_help_who",
    "console_help_kick",
    "console_help_quit",
    "console_help_history",
    "console_help_private",
    "console_help_chat",
)
HELP_KEYS = (
    "help_title",
    "help_list",
    "help_get",
    "help_cd",
    "help_put",
    "help_who",
    "help_quit",
    "help_private",
    "help_chat",
)
CLIENT_HELP_KEYS = (
    "session_commands_title",
    "client_help_list",
    "client_help_get",
    "client_help_mget",
    "client_help_cancel",
    "help_cd",
    "help_put",
    "help_who",
    "help_clear",
    "client_help_reconnect",
    "client_help_quit",
    "help_private",
    "help_chat",
)
"""The ftplab client's commands, with its aliases and keys, for its --help."""
CLIENT_COMMANDS_HELP_KEYS = ("help_title", *CLIENT_HELP_KEYS[1:])
"""The server's answer to `help` from a protocol-2 client (the ftplab client): the same commands."""


class Messages:
    """The catalogue of one language: `messages("no_such_file_named", name="a")`."""

    def __init__(self, language: str | None = None):
        self.language = language if language in CATALOGUES else DEFAULT_LANGUAGE
        self._strings = CATALOGUES[self.language]

    def __call__(self, key: str, **values) -> str:
        return self._strings[key].format(**values)


class Reason:
    """Why something failed, said later in the reader's language: a catalogue key and its
    values (`Reason("partial_gone", name=...)`), or an OSError's errno (`Reason.of(error)`),
    so no English strerror lands inside a Spanish sentence."""

    def __init__(self, key: str, **values):
        self.key = key
        self.values = values

    @classmethod
    def of(cls, error: OSError) -> Reason:
        """The words for a system error: its errno's, when the catalogue has them."""
        if isinstance(error, socket.gaierror):
            return cls("os_unknown_host")
        name = errno.errorcode.get(error.errno or 0, "")
        if f"os_{name}" in SPANISH:
            return cls(f"os_{name}")
        return cls("os_other", code=name or type(error).__name__)

    def text(self, say: Messages) -> str:
        return say(self.key, **self.values)

    def __repr__(self) -> str:
        return f"Reason({self.key!r}, **{self.values!r})"


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


DIRECTORY_MARK = "<dir>"


def listing_line(is_dir: bool, size: int, mtime: float, name: str) -> str:
    """One entry of a listing as people read it: size (or <dir>), local date and time, name
    (a folder's ending in "/"). The server writes it for older clients; the client writes it
    from `!ENTRY` fields."""
    stamp = datetime.fromtimestamp(mtime).strftime("%Y-%m-%d %H:%M")
    if is_dir:
        return f"{DIRECTORY_MARK:>10}  {stamp}  {name}/"
    return f"{human_size(size):>10}  {stamp}  {name}"
