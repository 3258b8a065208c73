# Shared by the API scripts: where the server is and how to authenticate.
#   TARTVM_URL       the server (default http://127.0.0.1:8000)
#   TARTVM_DATA_DIR  the server's data folder, which holds the token (default ~/.tartvm-manager)
set -euo pipefail

TARTVM_URL="${TARTVM_URL:-http://127.0.0.1:8000}"
TOKEN_FILE="${TARTVM_DATA_DIR:-$HOME/.tartvm-manager}/token"
[ -r "$TOKEN_FILE" ] || { echo "no token at $TOKEN_FILE: has the server run yet?" >&2; exit 2; }
TOKEN="$(cat "$TOKEN_FILE")"

# api METHOD PATH [JSON-BODY]: prints the response body; fails on an HTTP error, showing it.
api() {
  local method="$1" path="$2" body="${3:-}"
  local args=(--silent --show-error --max-time 60 -X "$method" -H "X-Local-Token: $TOKEN")
  if [ -n "$body" ]; then args+=(-H "Content-Type: application/json" --data "$body"); fi
  local out status
  out="$(curl "${args[@]}" --write-out '\n%{http_code}' "$TARTVM_URL$path")"
  status="${out##*$'\n'}"
  out="${out%$'\n'*}"
  if [ "$status" -ge 400 ]; then
    echo "HTTP $status: $(printf '%s' "$out" | error_text)" >&2
    return 1
  fi
  printf '%s\n' "$out"
}

# error_text: an error body on stdin as one readable text, whole: the `detail` sentence
# (quotes and all), or each problem of a 422 as `field: message`. Needs python3 (on a
# Mac with the command line tools); without it the body is shown as it came.
error_text() {
  local body
  body="$(cat)"
  if command -v python3 >/dev/null 2>&1; then
    printf '%s' "$body" | python3 -c '
import json, sys
raw = sys.stdin.read()
try:
    d = json.loads(raw).get("detail")
except Exception:
    print(raw); sys.exit()
if isinstance(d, list):
    print("; ".join(".".join(str(p) for p in i.get("loc", [])[1:]) + ": " + str(i.get("msg")) for i in d))
elif isinstance(d, str):
    print(d)
else:
    print(raw)
' 2>/dev/null || printf '%s\n' "$body"
  else
    printf '%s\n' "$body"
  fi
}

# json_get KEY: the value of top-level KEY in the JSON on stdin, whole (strings
# unquoted), or nothing. Needs python3; without it, json_field's first match.
json_get() {
  if command -v python3 >/dev/null 2>&1; then
    python3 -c 'import json, sys
v = json.load(sys.stdin).get(sys.argv[1])
print("" if v is None else v if isinstance(v, str) else json.dumps(v))' "$1" 2>/dev/null
  else
    json_field "$1"
  fi
}

# json_field NAME: the first string or number value of "NAME" in the JSON on stdin.
json_field() {
  sed -n "s/^[^{]*{.*\"$1\":\(\"\([^\"]*\)\"\|\([0-9.][0-9.]*\)\).*/\2\3/p" | head -n 1
}

# urlencode TEXT: percent-encodes a path segment (VM names, image references), byte by
# byte, so spaces and any Unicode in a VM name arrive as the UTF-8 the server expects.
urlencode() {
  local LC_ALL=C
  local s="$1" out="" c i
  for ((i = 0; i < ${#s}; i++)); do
    c="${s:i:1}"
    case "$c" in [a-zA-Z0-9.~_-]) out+="$c" ;; *) out+="$(printf '%%%02X' "'$c")" ;; esac
  done
  printf '%s' "$out"
}

# json_string TEXT: TEXT as a JSON string literal, quotes included.
json_string() {
  local s="$1"
  s="${s//\\/\\\\}"
  s="${s//\"/\\\"}"
  s="${s//$'\t'/\\t}"
  s="${s//$'\n'/\\n}"
  s="${s//$'\r'/\\r}"
  printf '"%s"' "$s"
}

# need_value OPTION VALUE: fails with a usage hint when an option has no value.
need_value() {
  [ -n "${2:-}" ] || { echo "$1 needs a value" >&2; exit 2; }
}

# wait_task TASK-JSON: follows the task until it ends, printing new log lines, and a
# pull's progress on one line (rewritten in place on a terminal); prints the final
# task; exits 0 if it completed, 1 if it failed (with its error, whole).
wait_task() {
  local id status task seen=0 lines progress shown=""
  id="$(printf '%s' "$1" | json_field id)"
  [ -n "$id" ] || { echo "no task id in: $1" >&2; return 1; }
  echo "task $id" >&2
  while :; do
    task="$(api GET "/api/tasks/$id")"
    # One log line per JSON string in "logs": [...]; printed once each, except bare
    # percentages, which the progress line shows.
    lines="$(printf '%s' "$task" | sed -n 's/.*"logs":\[\(.*\)\],"vm_name".*/\1/p' | sed 's/","/\n/g; s/^"//; s/"$//')"
    if [ -n "$lines" ]; then
      printf '%s\n' "$lines" | tail -n +$((seen + 1)) | grep -Ev '^(\\u001b\[[0-9;]*[A-Za-z])*[0-9]+%$' | sed 's/^/  | /' >&2 || true
      seen="$(printf '%s\n' "$lines" | wc -l)"
    fi
    status="$(printf '%s' "$task" | json_field status)"
    progress="$(printf '%s' "$task" | sed -n 's/.*"progress":\([0-9.]*\).*/\1/p' | cut -d. -f1)"
    if [ -n "$progress" ] && [ "$progress" != "$shown" ]; then
      if [ -t 2 ]; then printf '\r  progress %3s%%' "$progress" >&2; fi
      shown="$progress"
    fi
    case "$status" in
      completed | failed)
        if [ -n "$shown" ]; then
          if [ -t 2 ]; then printf '\n' >&2; else printf '  progress %s%%\n' "$shown" >&2; fi
        fi
        ;;
    esac
    case "$status" in
      completed) printf '%s\n' "$task"; return 0 ;;
      failed) printf '%s\n' "$task"; echo "task failed: $(printf '%s' "$task" | json_get error)" >&2; return 1 ;;
    esac
    sleep 0.5
  done
}
