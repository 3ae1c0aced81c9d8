-- ftplab.lua: a Wireshark dissector for the ftplab protocol (docs/protocol.md).
--
-- Every line is "NAME> text\n"; a server line whose text starts with "!" is a
-- control line (!HELLO, !FILE size sha256 name, !DATA n, !ERR code text,
-- !ABORT, !BYE). "!DATA n" is followed by exactly n raw bytes: the dissector
-- reads n from the line and keeps those bytes apart from the lines after them,
-- whatever n is. Lines and payloads split across TCP segments are reassembled
-- (Wireshark's "Allow subdissector to reassemble TCP streams", on by default).
-- The frames of a download are marked with the file's name and progress.
--
-- Install: copy this file to Wireshark's personal Lua plugins folder
-- (Help > About Wireshark > Folders > Personal Lua Plugins, usually
-- ~/.local/lib/wireshark/plugins/) and restart Wireshark; or, once:
--   wireshark -X lua_script:tools/wireshark/ftplab.lua capture.pcap
--   tshark -X lua_script:tools/wireshark/ftplab.lua -r capture.pcap -Y ftplab
-- It decodes TCP port 2121 (Edit > Preferences > Protocols > FTPLAB to change).

local ftplab = Proto("ftplab", "ftplab file server and chat")

local MAX_LINE_SEARCH = 64 * 1024  -- an unterminated "line" longer than this is shown as is
local COMMANDS = { list = true, get = true, who = true, help = true, quit = true }

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
}
ftplab.fields = fields

local expert_truncated = ProtoExpert.new("ftplab.unterminated", "Line without an end", expert.group.MALFORMED,
    expert.severity.WARN)
ftplab.experts = { expert_truncated }

ftplab.prefs.port = Pref.uint("TCP port", 2121, "The ftplab server's port")

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

local function describe_client_text(tree, text, state, info)
    local command
    if not state.joined then
        command = "join"
        state.joined = true
    elseif text:sub(1, 1) == "@" then
        command = "private"
    else
        local word, argument = text:match("^(%S+)%s*(.*)$")
        if word ~= nil and COMMANDS[word:lower()] then
            command = word:lower()
            if argument ~= "" then tree:add(fields.argument, argument) end
        elseif text == "" then
            command = "empty"
        else
            command = "chat"
        end
    end
    tree:add(fields.command, command)
    return command
end

-- A control line: its fields; returns the payload length for !DATA, else 0.
local function describe_control(tree, text, state, memo)
    local name, rest = text:match("^!(%u+)%s?(.*)$")
    if name == nil then return 0 end
    tree:add(fields.control, name)
    if name == "ERR" then
        local code, message = rest:match("^(%S+)%s?(.*)$")
        if code ~= nil then
            tree:add(fields.err_code, code)
            tree:add(fields.err_text, message)
        end
    elseif name == "FILE" then
        local size, sha, file = rest:match("^(%d+) (%x+) (.*)$")
        if size ~= nil then
            tree:add(fields.file_size, UInt64.new(tonumber(size)))
            tree:add(fields.file_sha256, sha)
            tree:add(fields.file_name, file)
            if memo.first_pass then state.download = { name = file, size = tonumber(size), received = 0 } end
        end
    elseif name == "DATA" then
        local length = tonumber(rest:match("^(%d+)"))
        return length or 0
    elseif name == "ABORT" and memo.first_pass then
        state.download = nil
    end
    return 0
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
    if data_length ~= nil and not to_server then
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
        if memo.first_pass then memo.command = describe_client_text(item, text, state) else
            item:add(fields.command, memo.command)
        end
    elseif text:sub(1, 1) == "!" and text:sub(1, 2) ~= "!!" then
        describe_control(item, text, state, memo)
    end
    if payload > 0 then
        item:add(fields.data_length, payload)
        item:add(fields.data, tvb(offset + line_length, payload))
        if memo.first_pass and state.download ~= nil then
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

local registered_port = nil
local function register_port()
    local ports = DissectorTable.get("tcp.port")
    if registered_port ~= nil then ports:remove(registered_port, ftplab) end
    registered_port = ftplab.prefs.port
    ports:add(registered_port, ftplab)
end
ftplab.prefs_changed = register_port

function ftplab.init()
    streams = {}
    remembered = {}
end

register_port()
