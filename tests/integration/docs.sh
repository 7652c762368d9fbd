# The documentation keeps up with the code: every setting groqgated reads
# (its section, name and default, from config.c's settings table) is in
# docs/configuration.md; every admin route (admin.c's table) is in
# docs/admin-api.md; every console binding (keys.c) is in groqtop's man page;
# every source file is named in docs/architecture.md.
source "$(dirname "$0")/../lib.sh"
out=$(python3 - "$ROOT" <<'PY'
import re, sys
root = sys.argv[1]
conf = open(root + '/src/gateway/core/config.c').read()
doc = open(root + '/docs/configuration.md').read()
# the settings table: { group, name, type, offset, default, min }
table = re.findall(r'\{ (NULL|"[a-z_]+"), (NULL|"[a-z_0-9]+"), T_[A-Z]+, [^,]+, (NULL|"[^"]*"), -?\d+ \}', conf)
settings, defaults, tops = [], [], set()
for g, n, d in table:
    g, n, d = g.strip('"'), n.strip('"'), d.strip('"')
    tops.add(n if g == 'NULL' else g)
    if n == 'NULL':
        continue
    name = n if g == 'NULL' else g + '.' + n
    settings.append(name)
    if d != 'NULL':
        row = next((l for l in doc.splitlines() if l.startswith('| `' + name + '`')), '')
        if d not in row and d.replace(' ', '') not in row.replace(' ', ''):
            defaults.append(name + '=' + d)
prices = re.findall(r'"([^"]+)"', re.search(r'"model", "input_per_mtok"[^}]*', conf).group(0))
print("settings", len(settings), " ".join(s for s in settings if '`' + s + '`' not in doc))
print("defaults", len(settings), " ".join(defaults))
print("sections", len(tops), " ".join(t for t in sorted(tops) if '`' + t not in doc))
print("prices", len(prices), " ".join(p for p in prices if p not in doc))
admin = open(root + '/src/gateway/admin/admin.c').read()
api = open(root + '/docs/admin-api.md').read()
routes = re.findall(r'\{ [A-Z_| ]+, "([a-z/:-]+)", ROLE_', admin)
def documented(p):
    # written whole (/admin/v1/teams/{id}/pause), or as the tail of the
    # section's route (.../tokens/{token_id}, .../rotation/deploy)
    segs = p.split('/')
    pat = '/admin/v1/' + '/'.join('[^/ `?]+' if x.startswith(':') else re.escape(x) for x in segs)
    tail = r'\.\.\./' + '/'.join('[^/ `?]+' if x.startswith(':') else re.escape(x) for x in segs[-2:])
    return re.search(pat + r'(?![a-z/])', api) is not None or (len(segs) > 2 and re.search(tail, api) is not None)
print("routes", len(routes), " ".join(r for r in routes if not documented(r)))
import glob, os
arch = open(root + '/docs/architecture.md').read()
files = sorted(os.path.basename(f) for pat in ('/src/*/*.c', '/src/*/*.h', '/src/*/*/*.c', '/src/*/*/*.h', '/include/*.h') for f in glob.glob(root + pat))
print("sources", len(files), " ".join(f for f in files if not re.search(r'(?<![\w.])' + re.escape(f) + r'\b', arch)))
keys = open(root + '/src/console/keys.c').read()
man = open(root + '/man/groqtop.1').read()
names = re.findall(r"\{ '.', \"(.)\", \"", keys)
print("bindings", len(names), " ".join(n for n in names if not re.search(r'\.[BR]+ [^\n]*\b' + re.escape(n) + r'\b', man)))
PY
)
while read -r what n missing; do
	check "config.c/admin.c/keys.c: $what found ($n)" test "$n" -gt 0
	check_eq "every one of the $what documented" "" "$missing"
done <<< "$out"
done_testing
