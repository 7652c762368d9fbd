# The Debian package (make package-check): lintian clean of errors and
# warnings; installed with apt-get on this machine, it makes the groqgate
# system user and a private /var/lib/groqgate, installs the programs, man
# pages, themes, the unit and the configuration as a conffile; an upgrade
# keeps an edited configuration; purge removes it all. Runs as root.
source "$(dirname "$0")/../lib.sh"
DEB=$(ls "$ROOT"/build/deb/groqgate_*_amd64.deb 2>/dev/null | head -1)
[ -n "$DEB" ] || { fail "no package in build/deb (make deb)"; done_testing; }
[ "$(id -u)" = 0 ] || { fail "installing the package needs root"; done_testing; }
if dpkg -s groqgate > /dev/null 2>&1; then fail "groqgate is already installed here; refusing to touch it"; done_testing; fi
trap 'dpkg --purge groqgate > /dev/null 2>&1; cleanup' EXIT
out=$(lintian --tag-display-limit 0 "$DEB" 2>&1 | grep -v 'running with root privileges')
check_eq "lintian: no error, no warning" "" "$(printf '%s\n' "$out" | grep -E '^(E|W):')"
deps=$(dpkg-deb -f "$DEB" Depends)
for lib in libjansson4 libconfig9 libevent-2.1-7 libssl3 libcurl4 libsqlite3-0 libncursesw6; do
	check_contains "depends on $lib" "$lib" "$deps"
done
check_not_contains "and on no -dev package" "-dev" "$deps"
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$DEB" > "$T/apt.log" 2>&1
check_eq "apt-get install ./groqgate_*.deb" 0 "$?"
for f in /usr/bin/groqgated /usr/bin/groqtop /usr/bin/groqctl /usr/bin/fakegroq /usr/share/man/man8/groqgated.8.gz \
	/usr/share/man/man1/groqctl.1.gz /usr/share/bash-completion/completions/groqctl /usr/share/doc/groqgate/examples/gitops/ci.yml \
	/usr/share/man/man1/groqtop.1.gz /usr/share/groqgate/themes/default.conf /lib/systemd/system/groqgated.service \
	/etc/groqgate/groqgated.conf /usr/share/doc/groqgate/examples/prometheus/groqgate.rules.yml; do
	check "installed: $f" test -e "$f"
done
check "the groqgate system user" getent passwd groqgate
check_eq "/var/lib/groqgate is the user's, 0700" "700 groqgate" "$(stat -c '%a %U' /var/lib/groqgate)"
check_eq "an empty admin tokens file the gateway accepts (0600)" "600 groqgate" "$(stat -c '%a %U' /etc/groqgate/admin-tokens)"
check_contains "the configuration is a conffile" /etc/groqgate/groqgated.conf "$(cat /var/lib/dpkg/info/groqgate.conffiles)"
su -s /bin/sh groqgate -c '/usr/bin/groqgated --check-config /etc/groqgate/groqgated.conf' > "$T/cc" 2>&1
check_eq "the packaged configuration checks out as the service's user" 0 "$?"
echo '# edited by the operator' >> /etc/groqgate/groqgated.conf
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --reinstall -o Dpkg::Options::=--force-confold "$DEB" > "$T/apt2.log" 2>&1
check_eq "reinstalled (an upgrade of the same version)" 0 "$?"
check_contains "the operator's edit survives it" "edited by the operator" "$(cat /etc/groqgate/groqgated.conf)"
dpkg --purge groqgate > "$T/purge.log" 2>&1
check_eq "purge" 0 "$?"
for f in /usr/bin/groqgated /etc/groqgate /var/lib/groqgate /lib/systemd/system/groqgated.service; do
	check "purged: $f" test ! -e "$f"
done
check "purged: the user" bash -c '! getent passwd groqgate'
done_testing
