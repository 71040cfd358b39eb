"""`queuectl completion bash|zsh|fish`: a completion script generated from the argument
parser, so that it knows every command, option and choice the parser knows. Job ids come
from the store as the user types, through the hidden `queuectl completion --ids PREFIX`.

A script holds the tree as data, one entry per command path ("" for queuectl itself,
"worker start"): its sub-commands, its options, which of those take a value, and what a
value or an argument may be. A small function in the shell's own language walks the words
typed so far through it. bash and zsh share that function; fish has its own."""

from __future__ import annotations

import argparse
import shlex
import sys
from typing import Callable

from queuectl.cli import parser as cli_parser
from queuectl.errors import UserError
from queuectl.model import STATES
from queuectl.records import field, record

MAX_IDS = 200  # job ids offered, the newest first: enough to choose from, quick to read
IDS = "@ids"  # an argument that is a job id, read from the store
FILES = "@files"  # a value that is a path
FILE_METAVARS = ("PATH_OR_URL", "F", "DIR", "CMD")  # a command's words: often paths
# Values an option's type checks, with no `choices` for argparse to show.
VALUES_OF_TYPE: dict[Callable[[str], object], tuple[str, ...]] = {cli_parser._state: STATES}


@record
class Option:
    names: list[str]
    help: str
    takes_value: bool
    values: list[str]  # its choices, or [FILES]; empty: anything


@record
class Node:
    """One command path, and what may follow it."""

    path: str
    commands: dict[str, str] = field(default_factory=dict)  # name -> help
    options: list[Option] = field(default_factory=list)
    arguments: list[str] = field(default_factory=list)  # choices, [IDS] or [FILES]


def command_tree(parser: argparse.ArgumentParser, path: str = "") -> list[Node]:
    """The node of `parser`, then those of its sub-commands, depth first. Hidden options
    (help=SUPPRESS) stay hidden."""
    node = Node(path)
    nodes = [node]
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            helps = {choice.dest: choice.help or "" for choice in action._choices_actions}
            for name, sub in action.choices.items():
                node.commands[name] = helps.get(name, "")
                nodes += command_tree(sub, f"{path} {name}".strip())
        elif action.help is argparse.SUPPRESS:
            continue
        elif action.option_strings:
            node.options.append(_option(action))
        elif not node.arguments:  # the first argument's, such as config set's KEY
            node.arguments = _values(action) or ([IDS] if action.metavar == "ID" else [])
    return nodes


def _option(action: argparse.Action) -> Option:
    names = list(action.option_strings)
    return Option(names, action.help or "", action.nargs != 0, _values(action))


def _values(action: argparse.Action) -> list[str]:
    if action.choices is not None:
        return [str(choice) for choice in action.choices]
    if action.type in VALUES_OF_TYPE:
        return list(VALUES_OF_TYPE[action.type])  # type: ignore[index]
    if action.metavar == "KEY":
        from queuectl.config import SETTINGS

        return list(SETTINGS)
    return [FILES] if action.metavar in FILE_METAVARS else []


def cmd_completion(args: argparse.Namespace) -> int:
    if args.ids is not None:
        _print_ids(args.db, args.ids)
        return 0
    if args.shell is None:
        raise UserError("give a shell: queuectl completion bash, zsh or fish")
    nodes = command_tree(cli_parser.build_parser())
    sys.stdout.write(SCRIPTS[args.shell](nodes))
    return 0


def _print_ids(db: str | None, prefix: str) -> None:
    """The ids of the newest jobs that start with `prefix`, one a line; nothing on any
    error (no store, a damaged one, a server away): a completion must never get in the
    way, nor create a store."""
    from queuectl import service

    try:
        ids = service.existing_job_ids(service.locate(db), prefix, MAX_IDS)
    except Exception:  # noqa: BLE001 - see the docstring
        return
    sys.stdout.write("".join(f"{job_id}\n" for job_id in ids))


# --- bash and zsh ------------------------------------------------------------------------


def _sh_cases(nodes: list[Node], items_of: Callable[[Node], list[str]]) -> str:
    """The body of a `case "$1"` that prints, one a line, each node's items."""
    lines = [
        f"        {shlex.quote(node.path)}) printf '%s\\n' {_sh_words(items_of(node))} ;;"
        for node in nodes
        if items_of(node)
    ]
    return "\n".join(lines) or "        *) ;;"


def _sh_words(items: list[str]) -> str:
    return " ".join(shlex.quote(item) for item in items)


def _sh_value_cases(nodes: list[Node]) -> str:
    """The body of a `case "$1|$2"` (a path and an option) that prints the option's values."""
    lines = [
        f"        {shlex.quote(f'{node.path}|{name}')}) "
        f"printf '%s\\n' {_sh_words(option.values)} ;;"
        for node in nodes
        for option in node.options
        if option.values
        for name in option.names
    ]
    return "\n".join(lines) or "        *) ;;"


def _option_names(node: Node) -> list[str]:
    return [name for option in node.options for name in option.names]


def _valued_names(node: Node) -> list[str]:
    return [name for option in node.options if option.takes_value for name in option.names]


def _sh_tree(nodes: list[Node]) -> str:
    """The tree, and the walk through it, in the shell language bash and zsh share."""
    return f"""_queuectl_commands() {{
    case "$1" in
{_sh_cases(nodes, lambda node: list(node.commands))}
    esac
}}

_queuectl_options() {{
    case "$1" in
{_sh_cases(nodes, _option_names)}
    esac
}}

_queuectl_valued() {{
    case "$1" in
{_sh_cases(nodes, _valued_names)}
    esac
}}

_queuectl_arguments() {{
    case "$1" in
{_sh_cases(nodes, lambda node: node.arguments)}
    esac
}}

_queuectl_values() {{
    case "$1|$2" in
{_sh_value_cases(nodes)}
    esac
}}

# Whether the word $1 is one of the lines $2.
_queuectl_has() {{
    [[ $'\\n'"$2"$'\\n' == *$'\\n'"$1"$'\\n'* ]]
}}

# The command path of the words given ("worker start"), and the --db among them.
_queuectl_walk() {{
    local word skip=""
    _queuectl_path=""
    _queuectl_db=()
    for word in "$@"; do
        if [[ -n $skip ]]; then
            [[ $skip == --db ]] && _queuectl_db=(--db "$word")
            skip=""
        elif [[ $word == --db=* ]]; then
            _queuectl_db=(--db "${{word#--db=}}")
        elif [[ $word == -* ]]; then
            _queuectl_has "$word" "$(_queuectl_valued "$_queuectl_path")" && skip=$word
        elif _queuectl_has "$word" "$(_queuectl_commands "$_queuectl_path")"; then
            _queuectl_path="${{_queuectl_path:+$_queuectl_path }}$word"
        fi
    done
}}

# What may come at the cursor, one a line ({FILES}: a path), after _queuectl_walk.
# Arguments: the word at the cursor, the word before it, the program.
_queuectl_candidates() {{
    local items
    if [[ $2 == -* ]] && _queuectl_has "$2" "$(_queuectl_valued "$_queuectl_path")"; then
        _queuectl_values "$_queuectl_path" "$2"
        return
    fi
    if [[ $1 == -* ]]; then
        _queuectl_options "$_queuectl_path"
        return
    fi
    items=$(_queuectl_commands "$_queuectl_path")
    [[ -z $items ]] && items=$(_queuectl_arguments "$_queuectl_path")
    if [[ $items == "{IDS}" ]]; then
        "$3" "${{_queuectl_db[@]}}" completion --ids "$1" 2>/dev/null
    elif [[ -n $items ]]; then
        printf '%s\\n' "$items"
    fi
}}
"""


def bash_script(nodes: list[Node]) -> str:
    return f"""# queuectl completion for bash, generated by `queuectl completion bash`.
# Load it from ~/.bashrc:  eval "$(queuectl completion bash)"

{_sh_tree(nodes)}
_queuectl() {{
    local cur="${{COMP_WORDS[COMP_CWORD]}}" line
    _queuectl_walk "${{COMP_WORDS[@]:1:COMP_CWORD-1}}"
    COMPREPLY=()
    while IFS= read -r line; do
        if [[ $line == "{FILES}" ]]; then
            COMPREPLY=()  # none: bash completes a path (complete -o default)
            return
        fi
        [[ -n $line && $line == "$cur"* ]] && COMPREPLY+=("$line")
    done < <(_queuectl_candidates "$cur" "${{COMP_WORDS[COMP_CWORD-1]}}" "${{COMP_WORDS[0]}}")
}}
complete -o default -F _queuectl queuectl
"""


def zsh_script(nodes: list[Node]) -> str:
    return f"""# queuectl completion for zsh, generated by `queuectl completion zsh`.
# Load it from ~/.zshrc, after compinit:  eval "$(queuectl completion zsh)"

{_sh_tree(nodes)}
_queuectl() {{
    local -a found
    _queuectl_walk "${{(@)words[2,CURRENT-1]}}"
    found=("${{(@f)$(_queuectl_candidates "$PREFIX" "${{words[CURRENT-1]}}" "${{words[1]}}")}}")
    if [[ ${{found[1]}} == "{FILES}" || ${{#${{found:#}}}} == 0 ]]; then
        _files
    else
        compadd -- "${{(@)found:#}}"
    fi
}}
compdef _queuectl queuectl
"""


# --- fish --------------------------------------------------------------------------------


def _fish_quote(text: str) -> str:
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


def _fish_cases(nodes: list[Node], items_of: Callable[[Node], list[str]]) -> str:
    return "\n".join(
        f"        case {_fish_quote(node.path)}\n"
        f"            printf '%s\\n' {' '.join(_fish_quote(item) for item in items_of(node))}"
        for node in nodes
        if items_of(node)
    )


def _fish_lines(node: Node) -> list[str]:
    """The `complete` lines of one node."""
    at = f'-n "__queuectl_at {_fish_quote(node.path)}"'  # a path is plain words
    lines = [
        f"complete -c queuectl {at} -a {_fish_quote(name)} -d {_fish_quote(help)}"
        for name, help in node.commands.items()
    ]
    for option in node.options:
        names = " ".join(
            f"-l {name[2:]}" if name.startswith("--") else f"-s {name[1:]}" for name in option.names
        )
        if option.values == [FILES]:
            value = " -r -F"
        elif option.values:
            value = f" -x -a {_fish_quote(' '.join(option.values))}"
        else:
            value = " -x" if option.takes_value else ""
        lines.append(f"complete -c queuectl {at} {names}{value} -d {_fish_quote(option.help)}")
    if node.arguments == [IDS]:
        lines.append(f"complete -c queuectl {at} -a '(__queuectl_ids)'")
    elif node.arguments == [FILES]:
        lines.append(f"complete -c queuectl {at} -F")
    elif node.arguments:
        lines.append(f"complete -c queuectl {at} -a {_fish_quote(' '.join(node.arguments))}")
    return lines


def fish_script(nodes: list[Node]) -> str:
    completions = "\n".join(line for node in nodes for line in _fish_lines(node))
    return f"""# queuectl completion for fish, generated by `queuectl completion fish`.
# Install it:  queuectl completion fish > ~/.config/fish/completions/queuectl.fish

function __queuectl_commands
    switch "$argv[1]"
{_fish_cases(nodes, lambda node: list(node.commands))}
    end
end

function __queuectl_valued
    switch "$argv[1]"
{_fish_cases(nodes, _valued_names)}
    end
end

# The command path of the words before the cursor ("worker start").
function __queuectl_path
    set -l path ''
    set -l skip 0
    for word in (commandline -opc)[2..-1]
        if test $skip = 1
            set skip 0
        else if string match -q -- '-*' $word
            if contains -- $word (__queuectl_valued "$path")
                set skip 1
            end
        else if contains -- $word (__queuectl_commands "$path")
            set path (string trim -- "$path $word")
        end
    end
    echo $path
end

function __queuectl_at
    set -l path (__queuectl_path)
    test "$path" = "$argv[1]"
end

function __queuectl_ids
    set -l words (commandline -opc)
    set -l db
    set -l at (contains -i -- --db $words)
    and set -q words[(math $at + 1)]
    and set db --db $words[(math $at + 1)]
    $words[1] $db completion --ids (commandline -ct) 2>/dev/null
end

complete -c queuectl -f
{completions}
"""


SCRIPTS: dict[str, Callable[[list[Node]], str]] = {
    "bash": bash_script,
    "zsh": zsh_script,
    "fish": fish_script,
}
