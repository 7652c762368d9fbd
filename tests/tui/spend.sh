# groqtop's :spend (the month by team, by model, by end user; the view
# written as CSV to a file the operator names) and :models (the retirement
# calendar with countdowns and who still calls each model, prices, the
# aliases in force), in the console and as --snapshot.
source "$(dirname "$0")/lib.sh"
start_fakegroq
SOON=$(date -u -d '+12 days' +%Y-%m-%d)
write_gateway_config "model_aliases = ( { alias = \"fast\"; model = \"llama-3.1-8b-instant\"; } );
deprecations = ( { model = \"llama-3.3-70b-versatile\"; shutdown = \"$SOON\"; replacement = \"openai/gpt-oss-20b\"; } );"
start_gateway
create_team chatbot '"rpm_limit":600,"monthly_budget_usd":10'
create_key chatbot-prod-api chatbot "$KEY1"
new_token chatbot; CHAT=$TOKEN
create_team search '"rpm_limit":600,"monthly_budget_usd":10'
create_key search-prod-api search "$KEY2"
new_token search; SEARCH=$TOKEN
for i in 1 2 3 4; do chat "$CHAT" llama-3.3-70b-versatile '"max_tokens":100,"user":"alice"'; done
chat "$CHAT" llama-3.3-70b-versatile '"max_tokens":100,"user":"bob"'
chat "$SEARCH" fast '"max_tokens":50'
check_eq "the traffic was served" 200 "$STATUS"
api PUT /admin/v1/aliases/smart '{"model":"openai/gpt-oss-20b"}'
make_tokfiles
chat_cost=$(sql "select sum(cost_nusd) from ledger where team = 'chatbot'")
total=$(sql "select sum(cost_nusd) from ledger")

# ---- --snapshot --view spend
snap=$("$BIN/groqtop" --gateway "http://$GW" --token-file "$TOKFILE" --snapshot --view spend --size 120x30 2>&1)
check_contains "snapshot: the spend view's title" "Spend this month (UTC) by team" "$snap"
check_contains "snapshot: the columns" "REQUESTS    INPUT TOK   CACHED TOK   OUTPUT TOK       COST USD  SHARE" "$snap"
row=$(printf '%s\n' "$snap" | grep -E '^│? *chatbot ')
check_contains "snapshot: chatbot's five requests" " 5 " "$row"
check_contains "snapshot: its cost, to the micro-dollar" "$(awk -v c="$chat_cost" 'BEGIN { printf "%.6f", c / 1e9 }')" "$row"
check_contains "snapshot: the total" "$(awk -v c="$total" 'BEGIN { printf "%.6f", c / 1e9 }')" "$(printf '%s\n' "$snap" | grep TOTAL)"
first=$(printf '%s\n' "$snap" | grep -nE ' chatbot | search ' | head -1)
check_contains "biggest first (chatbot spent more)" chatbot "$first"

# ---- the console: by model, by user, the export
tui_start 120x40
GT_ENV="GROQTOP_NOW=$(date +%s)" tui_groqtop
tui_wait "chatbot-prod-api"
tui_type ":spend"
tui_keys Enter
tui_check ":spend opens the view" "Spend this month (UTC) by team"
tui_check "its keys in the footer" "By model"
tui_keys m
tui_check "m: by model" "Spend this month (UTC) by model"
tui_check "the model served" "llama-3.1-8b-instant"
tui_keys u
tui_check "u: by end user" "Spend this month (UTC) by user"
tui_check "alice, biggest first" "alice"
tui_check "bob too" "bob"
tui_check "and the requests that named none" "(none)"
tui_keys e
tui_check "e asks where to write the CSV" "Export spend as CSV"
tui_type "$T/users.csv"
tui_keys Enter
tui_check "it says where it wrote it" "exported 3 rows to $T/users.csv"
check_eq "the file is the gateway's CSV by user" "user,requests,input_tokens,cached_input_tokens,output_tokens,audio_seconds,characters,cost_usd" \
	"$(head -1 "$T/users.csv")"
check_eq "alice's row: 4 requests" 4 "$(awk -F, '$1 == "alice" { print $2 }' "$T/users.csv")"
check_eq "its costs sum to the ledger" "$total" \
	"$(tail -n +2 "$T/users.csv" | awk -F, '{ split($NF, p, "."); s += p[1] * 1000000000 + p[2] } END { printf "%d", s }')"
tui_keys e
tui_wait "Export spend as CSV"
tui_type "/nonexistent-dir/x.csv"
tui_keys Enter
tui_check "a path it cannot write: said, not crashed" "export: cannot write /nonexistent-dir/x.csv"
tui_keys Escape
tui_wait_gone "Spend this month"

# ---- :models
tui_type ":models"
tui_keys Enter
tui_check ":models opens the view" "Models: retirements, prices, who calls what, aliases"
tui_check "the calendar: the model, its date, its countdown, its replacement" \
	"llama-3.3-70b-versatile            $SOON  in 12 days         -> openai/gpt-oss-20b"
tui_check "who still calls it" "chatbot called it in the last 7 days"
tui_check "the aliases: the configuration's" "fast                 -> llama-3.1-8b-instant"
tui_check "and the operators'" "smart                -> openai/gpt-oss-20b"
tui_check "with their source" "(admin)"
# set an alias from the console: asked for, confirmed, audited, listed
tui_keys a
tui_wait "Set an alias"
tui_type "quick=llama-3.1-8b-instant"
tui_keys Enter
tui_check "the confirmation says what the alias does" "Set alias 'quick' to model 'llama-3.1-8b-instant'?"
tui_keys y
tui_check "set: listed among the operators' aliases" "quick                -> llama-3.1-8b-instant"
api GET /admin/v1/aliases
check_contains "... in the gateway" '"alias":"quick"' "$BODY"
api GET '/admin/v1/audit?limit=1'
check_eq "... audited" alias.set "$(jq_body '.entries[0].action')"
tui_keys d
tui_wait "Remove an alias"
tui_type "quick"
tui_keys Enter
tui_check "removing asks first" "Remove alias 'quick'?"
tui_keys y
tui_wait_gone "quick                -> llama-3.1-8b-instant"
api GET /admin/v1/aliases
check_not_contains "removed: gone from the gateway" '"alias":"quick"' "$BODY"
tui_keys q
tui_wait_exit

snap=$("$BIN/groqtop" --gateway "http://$GW" --token-file "$VTOKFILE" --snapshot --view models --size 120x40 2>&1)
check_contains "snapshot --view models with a viewer's token" "Retirements (Groq's calendar: deprecations)" "$snap"
"$BIN/groqtop" --gateway "http://$GW" --token-file "$TOKFILE" --snapshot --view colour > /dev/null 2> "$T/err"
check_contains "an unknown view names the ones there are" "spend or models" "$(cat "$T/err")"
done_testing
