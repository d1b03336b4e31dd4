#!/usr/bin/env python3
"""Fails when a crate of the workspace has a circle of modules (`make lint`).

Each file is a module (`mod.rs`/`lib.rs`/`main.rs`: its folder's). A module depends on another
when it names it by path (`crate::a::b`, `super::x`, `self::y`, a `use` group) or, for a
parent, names a child's items (`child::X`, `pub use child::X`). `#[cfg(test)]` modules and
comments do not count. Methods named through `self` are not seen: keep an `impl` of a type in
the module of the layer it belongs to. `--self-test` checks that a circle is found.
"""
import glob
import os
import re
import sys
import tempfile


def modules(src):
    """Every module of the crate rooted at `src`: its path (a tuple) and its file."""
    mods = {}
    for path in glob.glob(os.path.join(src, '**', '*.rs'), recursive=True):
        rel = os.path.relpath(path, src)[:-3].split(os.sep)
        if rel[0] == 'bin':
            continue  # each file of src/bin is a crate of its own
        if rel[-1] in ('mod', 'lib', 'main'):
            rel = rel[:-1]
        mods[tuple(rel)] = path
    return mods


def strip_tests(text):
    """The text without comments and without `#[cfg(test)]` modules (matched by braces)."""
    text = re.sub(r'//[^\n]*', '', text)
    out, i = [], 0
    for m in re.finditer(r'#\[cfg\((?:all\()?test[^\]]*\]\s*mod\s+\w+\s*\{', text):
        if m.start() < i:
            continue
        out.append(text[i:m.start()])
        depth, j = 1, m.end()
        while depth and j < len(text):
            depth += {'{': 1, '}': -1}.get(text[j], 0)
            j += 1
        i = j
    out.append(text[i:])
    return ''.join(out)


def resolve(mods, path):
    """The deepest module a path names (an item's module), if any."""
    for n in range(len(path), 0, -1):
        if tuple(path[:n]) in mods:
            return tuple(path[:n])
    return None


def refs(mod, text):
    """The paths a module names through `crate`, `super` and `self` (a `use` group expanded)."""
    paths = []
    for m in re.finditer(r'\b(crate|super|self)((?:::\w+)*)(::\{([^}]*)\})?', text):
        head, rest, group = m.group(1), [p for p in m.group(2).split('::') if p], m.group(4)
        if not rest and group is None:
            continue  # `pub(super)`, `&self`: not a path
        base = list(mod) if head == 'self' else [] if head == 'crate' else list(mod[:-1])
        while rest and rest[0] == 'super':
            base, rest = base[:-1], rest[1:]
        if group:
            for g in group.split(','):
                g = g.strip().split(' as ')[0]
                if g and g != 'self':
                    paths.append(base + rest + g.split('::'))
        else:
            paths.append(base + rest)
    return paths


def sccs(graph):
    """Tarjan's strongly connected components of more than one module."""
    index, low, stack, on, out, n = {}, {}, [], set(), [], [0]
    def visit(v):
        index[v] = low[v] = n[0]; n[0] += 1; stack.append(v); on.add(v)
        for w in graph.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop(); on.discard(w); comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(comp)
    sys.setrecursionlimit(10000)
    for v in list(graph):
        if v not in index:
            visit(v)
    return out


def crate_cycles(src):
    """The circles of modules of the crate rooted at `src`, one line each."""
    mods = modules(src)
    graph = {}
    for mod, path in mods.items():
        if mod and mod[-1] == 'tests':
            continue  # a `tests.rs` beside its module
        with open(path) as f:
            text = strip_tests(f.read())
        for p in refs(mod, text):
            t = resolve(mods, p)
            if t is not None and t != mod and not (t and t[-1] == 'tests'):
                graph.setdefault(mod, set()).add(t)
        # a parent naming its child's items (`child::X`, `pub use child::X`): parent → child
        for child in [m for m in mods if len(m) == len(mod) + 1 and m[:len(mod)] == mod]:
            if child[-1] != 'tests' and re.search(r'(?<![\w:])' + child[-1] + r'::', text):
                graph.setdefault(mod, set()).add(child)
    return [' <-> '.join(sorted('::'.join(c) or 'lib' for c in comp)) for comp in sccs(graph)]


def self_test():
    """Circles between siblings and between a folder module and its files are found; comments,
    `#[cfg(test)]` modules, `pub(super)` and `&self` are not paths."""
    cases = [
        # (files, the circles expected)
        (
            {
                'lib.rs': 'mod a;\nmod b;\nmod c;\nmod d;\n',
                'a.rs': 'use crate::b::B;\npub struct A;\n',
                'b.rs': 'pub struct B(crate::a::A);\n',
                'c.rs': '// crate::a::A\n#[cfg(test)]\nmod tests {\n    use crate::b::B;\n}\n',
                'd/mod.rs': 'mod e;\npub use e::E;\npub struct D;\n',
                'd/e.rs': 'use super::{D};\npub struct E(D);\n',
            },
            ['a <-> b', 'd <-> d::e'],
        ),
        (
            {
                'lib.rs': 'mod a;\nmod b;\nmod d;\n',
                'a.rs': 'pub struct A;\n',
                'b.rs': 'pub struct B(crate::a::A);\n',
                'd/mod.rs': 'mod e;\nmod f;\npub use e::E;\n',
                'd/e.rs': 'use super::f::F;\npub(super) fn g(_: &self::E) {}\npub struct E(F);\n',
                'd/f.rs': 'pub struct F;\n',
            },
            [],
        ),
    ]
    for files, want in cases:
        with tempfile.TemporaryDirectory() as d:
            for name, text in files.items():
                os.makedirs(os.path.dirname(os.path.join(d, name)), exist_ok=True)
                with open(os.path.join(d, name), 'w') as f:
                    f.write(text)
            got = sorted(crate_cycles(d))
            assert got == want, (got, want)
    print('module-cycles: self-test passed')


def main():
    if sys.argv[1:] == ['--self-test']:
        return self_test()
    found = 0
    for src in sorted(glob.glob('**/src', recursive=True)):
        skip = 'node_modules' in src or 'target' in src
        if skip or not os.path.exists(os.path.join(os.path.dirname(src), 'Cargo.toml')):
            continue
        for cycle in crate_cycles(src):
            found += 1
            print(f'{os.path.dirname(src)}: a circle of modules: {cycle}')
    if found:
        sys.exit(1)
    print('module-cycles: no circles')


if __name__ == '__main__':
    main()
