#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
#
# Holds every #include "..." of the daemon's and the CLI's sources against
# layers.txt: a file may include its own layer's headers and those of the
# layers up to its "uses" column, nothing higher. Prints FILE:LINE: what is
# wrong for each offence and exits 1; exits 0 silently otherwise. Run by the
# build before anything is compiled (Makefile) and by `make lint`.
set -eu
cd "$(dirname "$0")/.."

files=$(find basic policy catalog drivers migration daemon ctl -type f \( -name '*.c' -o -name '*.h' \) | LC_ALL=C sort)

# shellcheck disable=SC2086
awk -v table=layers.txt '
function layer_of(path,    i) {
        for (i = 1; i <= n_pat; i++)
                if (match(path, pat_re[i]))
                        return i;
        return 0;
}
function glob_to_re(g) {
        gsub(/\./, "\\.", g);
        gsub(/\*/, "[^/]*", g);
        return "^" g "$";
}
BEGIN {
        while ((getline line < table) > 0) {
                if (line ~ /^[ \t]*(#|$)/)
                        continue;
                nf = split(line, f, /[ \t]+/);
                for (i = 4; i <= nf; i++) {
                        n_pat++;
                        pat_re[n_pat] = glob_to_re(f[i]);
                        pat_layer[n_pat] = f[1];
                        pat_name[n_pat] = f[2];
                        pat_uses[n_pat] = f[3];
                }
        }
        close(table);
        bad = 0;
}
# First pass (the file list on stdin): where each header lives.
FILENAME == "-" {
        path = $0;
        files[++n_files] = path;
        p = layer_of(path);
        if (!p) {
                printf "%s: not in any layer of layers.txt\n", path;
                bad = 1;
                next;
        }
        base = path;
        sub(/.*\//, "", base);
        if (base in where && where[base] != path) {
                printf "%s: header name also used by %s; includes would be ambiguous\n", path, where[base];
                bad = 1;
        }
        where[base] = path;
        file_pat[path] = p;
        next;
}
END {
        for (k = 1; k <= n_files; k++) {
                path = files[k];
                if (!(path in file_pat))
                        continue;
                me = file_pat[path];
                dir = path;
                sub(/[^/]*$/, "", dir);
                ln = 0;
                while ((getline line < path) > 0) {
                        ln++;
                        if (line !~ /^[ \t]*#[ \t]*include[ \t]*"/)
                                continue;
                        inc = line;
                        sub(/^[^"]*"/, "", inc);
                        sub(/".*$/, "", inc);
                        target = "";
                        if ((dir inc) in file_pat)
                                target = dir inc;
                        else {
                                b = inc;
                                sub(/.*\//, "", b);
                                if (b in where)
                                        target = where[b];
                        }
                        if (target == "") {
                                printf "%s:%d: includes \"%s\", which is no file of a layer\n", path, ln, inc;
                                bad = 1;
                                continue;
                        }
                        t = file_pat[target];
                        if (pat_name[t] == pat_name[me])
                                continue;
                        if (pat_layer[t] !~ /^[0-9]+$/ || pat_layer[t] + 0 > pat_uses[me] + 0) {
                                printf "%s:%d: includes %s (layer %s, %s); layer %s (%s) may use layers up to %s\n",
                                       path, ln, target, pat_layer[t], pat_name[t], pat_layer[me], pat_name[me],
                                       pat_uses[me];
                                bad = 1;
                        }
                }
                close(path);
        }
        exit bad;
}
' - <<LIST
$files
LIST
