#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""Who calls whom among host/src's objects, from nm: an object depends on
the object that defines a symbol it leaves undefined.  Prints the graph
(docs/host-transport.md draws it) and exits 1 if it has a cycle.

    host/depgraph.py OBJDIR
"""
import glob
import os
import subprocess
import sys


def graph(objdir):
    defs, undef = {}, {}
    for path in sorted(glob.glob(os.path.join(objdir, '*.o'))):
        name = os.path.basename(path)[:-2] + '.c'
        out = subprocess.run(['nm', path], capture_output=True, text=True,
                             check=True).stdout
        undef[name] = set()
        for line in out.splitlines():
            f = line.split()
            if len(f) == 2 and f[0] == 'U':
                undef[name].add(f[1])
            elif len(f) == 3 and f[1] in 'TDBR':
                defs[f[2]] = name
    return {n: sorted({defs[u] for u in us if u in defs} - {n})
            for n, us in undef.items()}


def cycle(g):
    """A cycle as a list of nodes, or None (depth-first, three colours)."""
    state, stack = {}, []

    def visit(n):
        state[n] = 'open'
        stack.append(n)
        for m in g.get(n, []):
            if state.get(m) == 'open':
                return stack[stack.index(m):] + [m]
            if m not in state:
                found = visit(m)
                if found:
                    return found
        stack.pop()
        state[n] = 'done'
        return None

    for n in g:
        if n not in state:
            found = visit(n)
            if found:
                return found
    return None


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    g = graph(sys.argv[1])
    if not g:
        sys.exit('depgraph: no objects in ' + sys.argv[1])
    for n in sorted(g):
        print('%-18s -> %s' % (n, ' '.join(g[n]) or '-'))
    c = cycle(g)
    if c:
        print('cycle: ' + ' -> '.join(c), file=sys.stderr)
        sys.exit(1)


if __name__ == '__main__':
    main()
