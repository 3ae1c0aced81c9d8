-- ftplab.lua: a Wireshark dissector for the ftplab protocol (docs/protocol.md).
--
-- Every line is "NAME> text\n"; a line whose text starts with "!" is a control
-- line (!HELLO, !FILE size sha256 name, !DATA n, !ERR code text, !ABORT, !BYE;
-- protocol 2 and 3: !PROTO n, !ENTRY kind size mtime name, !REFUSED code name,
-- !EARLIER name text; each one's fields are in CONTROL_FIELDS below). "!DATA n"
-- is followed by exactly n raw bytes, in either direction (a download, or an
-- upload after !GO): the dissector reads n from the line and keeps those bytes
-- apart from the lines after them, whatever n is. Lines and payloads split across TCP segments are reassembled
-- (Wireshark's "Allow subdissector to reassemble TCP streams", on by default).
-- The frames of a download are marked with the file's name and progress.
--
-- Install: copy this file to Wireshark's personal Lua plugins folder
-- (Help > About Wireshark > Folders > Personal Lua Plugins, usually
-- ~/.local/lib/wireshark/plugins/) and restart Wireshark; or, once:
--   wireshark -X lua_script:tools/wireshark/ftplab.lua capture.pcap
--   tshark -X lua_script:tools/wireshark/ftplab.lua -r capture.pcap -Y ftplab
-- It decodes TCP port 2121 (Edit > Preferences > Protocols > FTPLAB to change).
--
-- Over TLS (a server started with --tls-cert, `scripts/lab up --tls`): tick the
-- preference "The port speaks TLS" (tshark: -o ftplab.tls:TRUE), so the port is
-- handed to Wireshark's TLS dissector, which gives ftplab what it decrypts; give
-- TLS the client's key log (SSLKEYLOGFILE): Edit > Preferences > Protocols > TLS >
-- (Pre)-Master-Secret log filename (tshark: -o tls.keylog_file:keys.log).

local ftplab = Proto("ftplab", "ftplab file server and chat")

local MAX_LINE_SEARCH = 64 * 1024  -- an unterminated "line" longer than this is shown as is
local COMMANDS = {
    list = true, get = true, mget = true, resume = true, cancel = true, cd = true, pwd = true, put = true,
    who = true, help = true, quit = true,
}

local fields = {
    sender = ProtoField.string("ftplab.sender", "Sender"),
    text = ProtoField.string("ftplab.text", "Text"),
    direction = ProtoField.string("ftplab.direction", "Direction"),
    command = ProtoField.string("ftplab.command", "Command"),
    argument = ProtoField.string("ftplab.argument", "Argument"),
    control = ProtoField.string("ftplab.control", "Control line"),
    err_code = ProtoField.string("ftplab.err.code", "Error code"),
    err_text = ProtoField.string("ftplab.err.text", "Error text"),
    file_size = ProtoField.uint64("ftplab.file.size", "File size"),
    file_sha256 = ProtoField.string("ftplab.file.sha256", "File SHA-256"),
    file_name = ProtoField.string("ftplab.file.name", "File name"),
    data_length = ProtoField.uint32("ftplab.data.length", "Payload length"),
    data = ProtoField.bytes("ftplab.data", "Payload"),
    download = ProtoField.string("ftplab.download", "Download"),
    download_received = ProtoField.uint64("ftplab.download.received", "Download bytes so far"),
    join_option = ProtoField.string("ftplab.join.option", "Join option"),
    proto_version = ProtoField.uint32("ftplab.proto.version", "Protocol version"),
    entry_kind = ProtoField.string("ftplab.entry.kind", "Entry kind"),
    entry_size = ProtoField.uint64("ftplab.entry.size", "Entry size"),
    entry_mtime = ProtoField.absolute_time("ftplab.entry.mtime", "Entry modified", base.UTC),
    entry_name = ProtoField.string("ftplab.entry.name", "Entry name"),
    refused_code = ProtoField.string("ftplab.refused.code", "Refused code"),
    refused_name = ProtoField.string("ftplab.refused.name", "Refused name"),
    earlier_sender = ProtoField.string("ftplab.earlier.sender", "Earlier sender"),
    earlier_text = ProtoField.string("ftplab.earlier.text", "Earlier text"),
    resume_offset = ProtoField.uint64("ftplab.resume.offset", "Resumed from byte"),
    queued_name = ProtoField.string("ftplab.queued.name", "Queued name"),
    upload_path = ProtoField.string("ftplab.upload.path", "Upload path"),
    keepalive = ProtoField.string("ftplab.keepalive", "Keep-alive seconds"),
}
ftplab.fields = fields

local expert_truncated = ProtoExpert.new("ftplab.unterminated", "Line without an end", expert.group.MALFORMED,
    expert.severity.WARN)
ftplab.experts = { expert_truncated }

ftplab.prefs.port = Pref.uint("TCP port", 2121, "The ftplab server's port")
ftplab.prefs.tls = Pref.bool("The port speaks TLS", false,
    "The server was started with --tls-cert: hand the port to TLS, which gives ftplab what it decrypts")

local tcp_stream = Field.new("tcp.stream")

-- Per TCP stream, filled on the first pass in packet order: the download in
-- progress and whether the client has sent its first (joining) line yet.
local streams = {}
-- Per (frame, offset) of a line: what the first pass learnt, for later passes.
local remembered = {}

local function stream_state(pinfo)
    local key = tostring(tcp_stream().value)
    local state = streams[key]
    if state == nil then
        state = { joined = false, download = nil }
        streams[key] = state
    end
    return state
end

-- The end of the line starting at offset (index of its "\n"), or nil.
local function find_line_end(tvb, offset)
    local available = math.min(tvb:len() - offset, MAX_LINE_SEARCH)
    local chunk = tvb:raw(offset, available)
    local position = chunk:find("\n", 1, true)
    if position == nil then return nil end
    return offset + position - 1
end

local function split_line(raw)
    local body = raw:gsub("\r?\n$", "")
    local sender, text = body:match("^([^>]*)> ?(.*)$")
    if sender == nil then return nil, body end
    return sender, text
end

local function is_control(text) return text:sub(1, 1) == "!" and text:sub(1, 2) ~= "!!" end

-- What a client line is: its first line joins; then a control line (an
-- upload's !DATA or !ABORT), a private message, a command, or chat.
local function client_command(text, state)
    if not state.joined then
        state.joined = true
        return "join"
    elseif is_control(text) then
        return "control"
    elseif text:sub(1, 1) == "@" then
        return "private"
    end
    local word = text:match("^(%S+)")
    if word ~= nil and COMMANDS[word:lower()] then return word:lower() end
    return text == "" and "empty" or "chat"
end

-- What each control line carries: a Lua pattern over the rest of the line and
-- the fields its captures go to, in order (size-like fields as numbers).
local function number(value) return UInt64.new(tonumber(value)) end
local function seconds(value) return NSTime.new(tonumber(value), 0) end
local CONTROL_FIELDS = {
    ERR = { "^(%S+)%s?(.*)$", { fields.err_code }, { fields.err_text } },
    FILE = { "^(%d+) (%x+) (.*)$", { fields.file_size, number }, { fields.file_sha256 }, { fields.file_name } },
    RESUME = {
        "^(%d+) (%d+) (%x+) (.*)$", { fields.resume_offset, number }, { fields.file_size, number },
        { fields.file_sha256 }, { fields.file_name },
    },
    PROTO = { "^(%d+)", { fields.proto_version, tonumber } },
    ENTRY = {
        "^(%a) (%d+) (%d+) (.*)$", { fields.entry_kind }, { fields.entry_size, number },
        { fields.entry_mtime, seconds }, { fields.entry_name },
    },
    REFUSED = { "^(%S+) (.*)$", { fields.refused_code }, { fields.refused_name } },
    EARLIER = { "^(%S+) (.*)$", { fields.earlier_sender }, { fields.earlier_text } },
    QUEUED = { "^(.+)$", { fields.queued_name } },
    GO = { "^(.+)$", { fields.upload_path } },
    SAVED = { "^(%d+) (.*)$", { fields.file_size, number }, { fields.upload_path } },
    KEEPALIVE = { "^(%S+)", { fields.keepalive } },
}

local function add_captures(tree, rest, spec)
    local values = { rest:match(spec[1]) }
    if #values == 0 then return nil end
    for index, value in ipairs(values) do
        local field, convert = spec[index + 1][1], spec[index + 1][2]
        tree:add(field, convert and convert(value) or value)
    end
    return values
end

-- A control line's name and fields; returns the name and the captured values.
local function describe_control(tree, text)
    local name, rest = text:match("^!(%u+)%s?(.*)$")
    if name == nil then return nil end
    tree:add(fields.control, name)
    local spec = CONTROL_FIELDS[name]
    return name, spec and add_captures(tree, rest, spec)
end

-- The download a server's control line starts or ends (first pass only).
local function follow_download(state, name, values)
    if name == "FILE" and values then
        state.download = { name = values[3], size = tonumber(values[1]), received = 0 }
    elseif name == "RESUME" and values then
        state.download = { name = values[4], size = tonumber(values[2]), received = tonumber(values[1]) }
    elseif name == "ABORT" then
        state.download = nil
    end
end

-- A client line's fields: its command, the options of "!JOIN key=value ...",
-- a command's argument, an upload's control line.
local function describe_client_text(tree, text, command)
    tree:add(fields.command, command)
    if command == "join" then
        for option in (text:match("^!!?JOIN%s*(.*)$") or ""):gmatch("%S+") do tree:add(fields.join_option, option) end
    elseif command == "control" then
        describe_control(tree, text)
    elseif COMMANDS[command] then
        local argument = text:match("^%S+%s+(.-)%s*$")
        if argument ~= nil and argument ~= "" then tree:add(fields.argument, argument) end
    end
end

-- One PDU: a line, plus its payload for !DATA. Returns its length, or nil with
-- the number of bytes still missing when the PDU goes on in the next segments.
-- Its second value, when complete, is a one-line summary for the Info column.
local function dissect_pdu(tvb, pinfo, tree, offset, to_server)
    local line_end = find_line_end(tvb, offset)
    if line_end == nil then
        if tvb:len() - offset >= MAX_LINE_SEARCH then
            local item = tree:add(ftplab, tvb(offset))
            item:add_proto_expert_info(expert_truncated)
            return tvb:len() - offset
        end
        return nil, DESEGMENT_ONE_MORE_SEGMENT
    end
    local line_length = line_end - offset + 1
    local raw = tvb:raw(offset, line_length)
    local sender, text = split_line(raw)
    local payload = 0
    local data_length = raw:match("> ?!DATA (%d+)\r?\n$")
    if data_length ~= nil then
        payload = tonumber(data_length)
        if offset + line_length + payload > tvb:len() then
            return nil, offset + line_length + payload - tvb:len()
        end
    end

    local key = pinfo.number .. ":" .. offset
    local memo = remembered[key]
    if memo == nil then
        memo = { first_pass = true }
        remembered[key] = memo
    else
        memo.first_pass = false
    end
    local state = stream_state(pinfo)
    local item = tree:add(ftplab, tvb(offset, line_length + payload))
    item:add(fields.direction, to_server and "client to server" or "server to client")
    if sender ~= nil then item:add(fields.sender, tvb(offset, #sender), sender) end
    item:add(fields.text, text)

    local summary = raw:gsub("\r?\n$", "")
    if to_server then
        if memo.first_pass then memo.command = client_command(text, state) end
        describe_client_text(item, text, memo.command)
    elseif is_control(text) then
        local name, values = describe_control(item, text)
        if memo.first_pass then follow_download(state, name, values) end
    end
    if payload > 0 then
        item:add(fields.data_length, payload)
        item:add(fields.data, tvb(offset + line_length, payload))
        if memo.first_pass and state.download ~= nil and not to_server then
            state.download.received = state.download.received + payload
            memo.download = state.download.name
            memo.received = state.download.received
            memo.size = state.download.size
            if state.download.received >= state.download.size then state.download = nil end
        end
        if memo.download ~= nil then
            item:add(fields.download, memo.download)
            item:add(fields.download_received, UInt64.new(memo.received))
            summary = string.format("%s [%s %d/%d]", summary, memo.download, memo.received, memo.size)
        end
    end
    item:append_text(": " .. summary)
    return line_length + payload, summary
end

function ftplab.dissector(tvb, pinfo, tree)
    pinfo.cols.protocol = "FTPLAB"
    local to_server = pinfo.dst_port == ftplab.prefs.port
    local offset, summaries = 0, {}
    while offset < tvb:len() do
        local length, more = dissect_pdu(tvb, pinfo, tree, offset, to_server)
        if length == nil then
            pinfo.desegment_offset = offset
            pinfo.desegment_len = more
            break
        end
        summaries[#summaries + 1] = more
        offset = offset + length
    end
    if #summaries > 0 then
        -- A second call for the same frame (after a reassembled PDU) writes after
        -- TCP's fence: keep the first summary and separate them.
        local before = tostring(pinfo.cols.info)
        local separator = before:find("> ", 1, true) and " | " or ""
        pinfo.cols.info:set(separator .. table.concat(summaries, " | "))
    end
    return tvb:len()
end

-- The port goes to ftplab, or (preference tls) to TLS; TLS hands what it
-- decrypts on that port to ftplab either way, so "Decode As... TLS" works too.
local registered = nil  -- { port, the dissector tcp.port gives it to }
local function register_port()
    local tcp_ports, tls_ports = DissectorTable.get("tcp.port"), DissectorTable.get("tls.port")
    if registered ~= nil then
        tcp_ports:remove(registered.port, registered.dissector)
        tls_ports:remove(registered.port, ftplab)
    end
    local port = ftplab.prefs.port
    registered = { port = port, dissector = ftplab.prefs.tls and Dissector.get("tls") or ftplab }
    tcp_ports:add(port, registered.dissector)
    tls_ports:add(port, ftplab)
end
ftplab.prefs_changed = register_port

function ftplab.init()
    streams = {}
    remembered = {}
end

register_port()
