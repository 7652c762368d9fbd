# groqtop with several addresses for one gateway (a context's list, or
# --gateway A,B): when the one it watches stops answering it moves to the
# next by itself and says so; a refused token is not a reason to move.
source "$(dirname "$0")/lib.sh"
seed_org
A=$GW A_PID=$GW_PID
# a second gateway on the same store's copy (another replica's address)
cp "$T/gw.conf" "$T/gw-b.conf"
sed -i "s#$T/gw.db#$T/gw-b.db#; s#$T/groqgated.log#$T/groqgated-b.log#" "$T/gw-b.conf"
cp "$T/gw.db" "$T/gw-b.db"
"$BIN/groqgated" --config "$T/gw-b.conf" > "$T/b.addr" 2> "$T/b.err" &
B_PID=$!
PIDS="$PIDS $B_PID"
B=$(first_line "$T/b.addr") || { fail "the second gateway did not start"; cat "$T/b.err"; done_testing; }

tui_start 120x40
tui_type "clear; $BIN/groqtop --gateway http://$A,http://$B --token-file $TOKFILE --no-mouse --refresh 1"
tui_keys Enter
tui_wait "● live"
tui_check "it watches the first address" "http://$A"
kill -9 "$A_PID"; wait "$A_PID" 2>/dev/null
tui_check "when it stops answering, the console says where it moved" "moved to http://$B: http://$A did not answer" 15
tui_check "and is live on the other" "http://$B ● live" 15
tui_keys q
tui_wait_exit

# a context with a list of addresses, the first one down from the start
cat > "$T/groqtop.conf" <<CONF
contexts = ( { name = "prod"; gateway = [ "http://$A", "http://$B" ]; token_file = "$TOKFILE"; } );
context = "prod";
CONF
tui_type "clear; $BIN/groqtop --config $T/groqtop.conf --no-mouse --refresh 1"
tui_keys Enter
tui_check "a context's list: the console finds the live address" "http://$B @prod ● live" 20
tui_keys q
tui_wait_exit

# a refused token is the same at every address: it stays and says so
printf 'ggadm_wrong_token\n' > "$T/wrong.token"
chmod 600 "$T/wrong.token"
tui_type "clear; $BIN/groqtop --gateway http://$B,http://$A --token-file $T/wrong.token --no-mouse --refresh 1"
tui_keys Enter
tui_check "a wrong token: said as such" "token refused" 15
check "... and no move" tui_lacks "moved to"
tui_keys q
tui_wait_exit
"$BIN/groqtop" --gateway "http://$B,ftp://x" --token-file "$TOKFILE" --snapshot > /dev/null 2> "$T/err"
check_eq "a bad address in the list is refused naming it" "groqtop: --gateway must start with http:// or https:// (got 'ftp://x')" "$(cat "$T/err")"
done_testing
