# shellcheck shell=bash
# What scripts/lab and scripts/lab-swarm share (sourced, not run): messages,
# usage errors and the command dispatch. The sourcing script sets PROGRAM, the
# name its messages start with ("lab", "lab swarm"), and defines one function
# cmd_NAME per command; its usage text is its header comment, from line 2 to
# `set -euo pipefail`.
#
# Exit statuses: 0 done, 1 error (die), 2 usage (usage_error).

say() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }
info() { printf '    %s\n' "$*" >&2; }
die() { printf '%s: error: %s\n' "$PROGRAM" "$*" >&2; exit 1; }
usage_error() { printf '%s: %s\n' "$PROGRAM" "$*" >&2; exit 2; }
usage() { sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "$0"; }

# no_arguments COMMAND "$@": a usage error unless no argument was given.
no_arguments() {
    local command="$1"
    shift
    [ $# -eq 0 ] || usage_error "$command takes no arguments (got '$*'); scripts/$PROGRAM help"
}

# dispatch "$@": the script's main. `help` prints the usage; a command with a
# cmd_NAME function runs it with the other arguments, after the script's
# before_command function if it has one (checks that need not delay help and
# usage errors); anything else is a usage error in one line.
dispatch() {
    [ $# -ge 1 ] || usage_error "which command? (scripts/$PROGRAM help lists them)"
    local name="$1"
    shift
    case "$name" in
        -h|--help|help) usage; return 0 ;;
    esac
    if ! [[ $name =~ ^[a-z]+$ ]] || ! declare -F "cmd_$name" >/dev/null; then
        usage_error "unknown command '$name' (scripts/$PROGRAM help lists them)"
    fi
    if declare -F before_command >/dev/null; then before_command; fi
    "cmd_$name" "$@"
}
