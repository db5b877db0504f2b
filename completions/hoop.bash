# bash completion for hoop, generated from the command registry: do not edit.
# Install: source this file, or copy it to /etc/bash_completion.d/hoop
_hoop() {
  local cur path="" w i opts
  cur="${COMP_WORDS[COMP_CWORD]}"
  for ((i = 1; i < COMP_CWORD; i++)); do
    w="${COMP_WORDS[i]}"
    [[ "$w" == -* ]] && continue
    case " $(_hoop_children "$path") " in
      *" $w "*) path="${path:+$path }$w" ;;
    esac
  done
  case "$path" in
    "") opts="demo login logout whoami token connect exec connections sessions replay approve deny approvals policy mask audit gateway admin completion --help --version" ;;
    "admin") opts="service-account --help" ;;
    "admin service-account") opts="create list revoke --help" ;;
    "admin service-account create") opts="-g --groups -c --config --json --help" ;;
    "admin service-account list") opts="-c --config --json --help" ;;
    "admin service-account revoke") opts="-c --config --help" ;;
    "approvals") opts="list --help" ;;
    "approvals list") opts="--status --json --gateway --token --agent-meta --help" ;;
    "approve") opts="--for --json --gateway --token --agent-meta --help" ;;
    "audit") opts="verify export report keygen --help" ;;
    "audit export") opts="-c --config --since --until --out --format --json --help" ;;
    "audit keygen") opts="--out --json --help" ;;
    "audit report") opts="-c --config --since --until --format --json --help" ;;
    "audit verify") opts="-c --config --export --public-key --json --help" ;;
    "completion") opts="--help" ;;
    "connect") opts="-p --port --json --gateway --token --agent-meta --help" ;;
    "connections") opts="--json --gateway --token --agent-meta --help" ;;
    "demo") opts="-p --port --json --help" ;;
    "deny") opts="-r --reason --json --gateway --token --agent-meta --help" ;;
    "exec") opts="-i --input -f --file --json --gateway --token --agent-meta --help" ;;
    "gateway") opts="-c --config --help" ;;
    "login") opts="--gateway --no-browser --client-credentials --token --json --help" ;;
    "logout") opts="--help" ;;
    "mask") opts="test --help" ;;
    "mask test") opts="--csv --no-header -c --config --connection --json --help" ;;
    "policy") opts="check explain --help" ;;
    "policy check") opts="--json --help" ;;
    "policy explain") opts="--connection --as --groups --sql --command --ref --delete --access --policy -c --config --json --help" ;;
    "replay") opts="--speed --skip-idle --channel --format -o --out -c --config --gateway --token --agent-meta --help" ;;
    "sessions") opts="show --all --connection --limit -c --config --json --gateway --token --agent-meta --help" ;;
    "sessions show") opts="-c --config --json --gateway --token --agent-meta --help" ;;
    "token") opts="--gateway --token --agent-meta --help" ;;
    "whoami") opts="--json --gateway --token --agent-meta --help" ;;
    *) opts="" ;;
  esac
  COMPREPLY=( $(compgen -W "$opts" -- "$cur") )
}
_hoop_children() {
  case "$1" in
    "") echo "demo login logout whoami token connect exec connections sessions replay approve deny approvals policy mask audit gateway admin completion" ;;
    "sessions") echo "show" ;;
    "approvals") echo "list" ;;
    "policy") echo "check explain" ;;
    "mask") echo "test" ;;
    "audit") echo "verify export report keygen" ;;
    "admin") echo "service-account" ;;
    "admin service-account") echo "create list revoke" ;;
  esac
}
complete -F _hoop hoop
