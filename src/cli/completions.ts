import type { CommandSpec } from './command.js';

function longFlags(spec: CommandSpec): string[] {
  const flags = (spec.options ?? []).flatMap((o) => o.flags.split(/[ ,|]+/).filter((f) => f.startsWith('-')));
  return [...flags, '--help'];
}

/** Children of each command path ('' is the root), from the registry. */
function tree(specs: readonly CommandSpec[]): Map<string, Set<string>> {
  const children = new Map<string, Set<string>>();
  for (const s of specs) {
    const words = s.name.split(' ');
    for (let i = 0; i < words.length; i++) {
      const parent = words.slice(0, i).join(' ');
      if (!children.has(parent)) children.set(parent, new Set());
      children.get(parent)!.add(words[i]!);
    }
  }
  return children;
}

/** A bash completion script generated from the command registry. */
export function bashCompletion(specs: readonly CommandSpec[]): string {
  const children = tree(specs);
  const cases: string[] = [];
  const paths = new Set<string>([...children.keys(), ...specs.map((s) => s.name)]);
  for (const path of [...paths].sort()) {
    const spec = specs.find((s) => s.name === path);
    const words = [...(children.get(path) ?? [])];
    const flags = spec ? longFlags(spec) : ['--help'];
    if (path === '') flags.push('--version');
    cases.push(`    "${path}") opts="${[...words, ...flags].join(' ')}" ;;`);
  }
  return `# bash completion for hoop, generated from the command registry: do not edit.
# Install: source this file, or copy it to /etc/bash_completion.d/hoop
_hoop() {
  local cur path="" w i opts
  cur="\${COMP_WORDS[COMP_CWORD]}"
  for ((i = 1; i < COMP_CWORD; i++)); do
    w="\${COMP_WORDS[i]}"
    [[ "$w" == -* ]] && continue
    case " $(_hoop_children "$path") " in
      *" $w "*) path="\${path:+$path }$w" ;;
    esac
  done
  case "$path" in
${cases.join('\n')}
    *) opts="" ;;
  esac
  COMPREPLY=( $(compgen -W "$opts" -- "$cur") )
}
_hoop_children() {
  case "$1" in
${[...children.entries()].map(([p, c]) => `    "${p}") echo "${[...c].join(' ')}" ;;`).join('\n')}
  esac
}
complete -F _hoop hoop
`;
}

/** A zsh completion script generated from the command registry. */
export function zshCompletion(specs: readonly CommandSpec[]): string {
  const lines = specs.map((s) => `    '${s.name.replace(/'/g, '')}:${s.summary.replace(/'/g, '').replace(/:/g, '\\:')}'`);
  return `#compdef hoop
# zsh completion for hoop, generated from the command registry: do not edit.
# Install: put this file in a directory on $fpath as _hoop.
_hoop() {
  local -a commands
  commands=(
${lines.join('\n')}
  )
  local line="\${words[2,CURRENT-1]}"
  local -a matches
  local c
  for c in "\${commands[@]}"; do
    local name="\${c%%:*}"
    if [[ -z "$line" ]]; then matches+=("\${name%% *}"); continue; fi
    if [[ "$name" == "$line "* ]]; then local rest="\${name#$line }"; matches+=("\${rest%% *}"); fi
  done
  compadd -- \${(u)matches}
}
_hoop "$@"
`;
}
