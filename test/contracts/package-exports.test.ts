// What each package offers is what its entry names, and only that. A package's entry (packages/*/src/index.ts
// and every other entry its package.json `exports` map lists, such as @bundlefarm/queue/worker) names
// each export (`export { a, type B } from './x.js'`): `export *` would make every module's internals
// public API by accident. Every name an entry exports is imported somewhere in the repository (packages,
// apps, tests, scripts, bench), or is part of what a caller of the package needs without importing it
// by name — an error class (callers catch them), a type that an exported function, class or type names
// in its signature or shape (the options and results of the public functions) — or is in ALLOWLIST,
// with the reason. Nothing reaches into another package past its `exports` map: no `@bundlefarm/x/deep`
// path the map does not list, no relative path into another package's directory.
//
// Read syntactically with the TypeScript parser (no type checking), so the test runs in a second or two.
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';

const root = fileURLToPath(new URL('../../', import.meta.url));

/**
 * Exports no code in the repository imports, kept on purpose: entry specifier → name → why. Keep this
 * short: a name belongs here only when a user of the package needs it and the rules above do not cover it.
 */
const ALLOWLIST: Readonly<Record<string, Readonly<Record<string, string>>>> = {
  '@bundlefarm/errors': {
    ErrorCode: 'the union of every registered code, for callers that switch on err.code',
  },
};

interface Entry {
  /** `@bundlefarm/queue`, `@bundlefarm/queue/worker` … */
  specifier: string;
  /** The package's directory, relative to the root (`packages/queue`). */
  packageDir: string;
  /** The entry's source file, relative to the root. */
  file: string;
}

/** Package name → its directory and its `exports` map, for every workspace package (packages, apps, test helpers). */
function workspacePackages(): Map<string, { dir: string; exports: Record<string, unknown> | undefined }> {
  const rootManifest = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { workspaces: string[] };
  const out = new Map<string, { dir: string; exports: Record<string, unknown> | undefined }>();
  for (const dir of rootManifest.workspaces) {
    const manifest = JSON.parse(readFileSync(join(root, dir, 'package.json'), 'utf8')) as { name: string; exports?: Record<string, unknown> };
    out.set(manifest.name, { dir, exports: manifest.exports });
  }
  return out;
}

/** The entries of packages/*: one per `exports` key, mapped from dist/….js back to src/….ts. */
function entries(): Entry[] {
  const out: Entry[] = [];
  for (const [name, { dir, exports }] of workspacePackages()) {
    if (!dir.startsWith('packages/')) continue;
    assert.ok(exports, `${dir}/package.json has an exports map`);
    for (const [key, target] of Object.entries(exports)) {
      const built = typeof target === 'string' ? target : (target as { default?: string }).default;
      if (!built?.startsWith('./dist/') || !built.endsWith('.js')) assert.fail(`${dir}/package.json exports[${JSON.stringify(key)}] points into dist/: ${String(built)}`);
      const file = join(dir, 'src', built.slice('./dist/'.length).replace(/\.js$/, '.ts'));
      assert.ok(existsSync(join(root, file)), `${dir}/package.json exports[${JSON.stringify(key)}]: ${file} exists`);
      out.push({ specifier: key === '.' ? name : `${name}${key.slice(1)}`, packageDir: dir, file });
    }
  }
  return out;
}

function walk(dir: string, out: string[] = []): string[] {
  if (!existsSync(dir)) return out;
  for (const name of readdirSync(dir)) {
    if (name === 'node_modules' || name === 'dist' || name === 'build' || name.startsWith('.')) continue;
    const path = join(dir, name);
    if (statSync(path).isDirectory()) walk(path, out);
    else if (/\.(ts|mts|js|mjs)$/.test(name) && !name.endsWith('.d.ts')) out.push(path);
  }
  return out;
}

const parsed = new Map<string, ts.SourceFile>();
function parse(file: string): ts.SourceFile {
  let sf = parsed.get(file);
  if (!sf) {
    const kind = /\.m?ts$/.test(file) ? ts.ScriptKind.TS : ts.ScriptKind.JS;
    sf = ts.createSourceFile(file, readFileSync(file, 'utf8'), ts.ScriptTarget.Latest, true, kind);
    parsed.set(file, sf);
  }
  return sf;
}

/** Every source file that may import a package: packages (src and tests), apps, tests, scripts, bench. */
function consumers(): string[] {
  return ['packages', 'apps', 'test', 'scripts', 'bench'].flatMap((d) => walk(join(root, d)));
}

interface ImportSite {
  file: string;
  specifier: string;
  /** Names imported; '*' for a namespace import, an `export *` or an import() whose use is not destructured. */
  names: string[];
}

/** Imports of other modules in one file: static, re-exports, `await import()` destructured, and `import('x').T` types. */
function importsOf(file: string): ImportSite[] {
  const sf = parse(file);
  const out: ImportSite[] = [];
  const named = (els: readonly (ts.ImportSpecifier | ts.ExportSpecifier)[]) => els.map((el) => (el.propertyName ?? el.name).text);
  const visit = (node: ts.Node): void => {
    if ((ts.isImportDeclaration(node) || ts.isExportDeclaration(node)) && node.moduleSpecifier && ts.isStringLiteral(node.moduleSpecifier)) {
      const specifier = node.moduleSpecifier.text;
      if (ts.isImportDeclaration(node)) {
        const clause = node.importClause;
        const bindings = clause?.namedBindings;
        const names = !clause ? [] : [...(clause.name ? ['default'] : []), ...(bindings && ts.isNamedImports(bindings) ? named(bindings.elements) : bindings ? ['*'] : [])];
        out.push({ file, specifier, names });
      } else {
        const clause = node.exportClause;
        out.push({ file, specifier, names: clause && ts.isNamedExports(clause) ? named(clause.elements) : ['*'] });
      }
    } else if (ts.isCallExpression(node) && node.expression.kind === ts.SyntaxKind.ImportKeyword) {
      const arg = node.arguments[0];
      if (arg && ts.isStringLiteral(arg)) {
        const parent = ts.isAwaitExpression(node.parent) ? node.parent.parent : node.parent;
        const names =
          ts.isVariableDeclaration(parent) && ts.isObjectBindingPattern(parent.name)
            ? parent.name.elements.map((el) => (el.propertyName && ts.isIdentifier(el.propertyName) ? el.propertyName : (el.name as ts.Identifier)).text)
            : ['*'];
        out.push({ file, specifier: arg.text, names });
      }
    } else if (ts.isImportTypeNode(node) && ts.isLiteralTypeNode(node.argument) && ts.isStringLiteral(node.argument.literal)) {
      out.push({ file, specifier: node.argument.literal.text, names: [node.qualifier ? node.qualifier.getText(sf).split('.')[0]! : '*'] });
    }
    ts.forEachChild(node, visit);
  };
  visit(sf);
  return out;
}

/** The names an entry exports, each with the module it comes from (undefined for one declared in the entry itself). */
function exportedNames(entryFile: string): Map<string, string | undefined> {
  const sf = parse(entryFile);
  const out = new Map<string, string | undefined>();
  for (const st of sf.statements) {
    if (ts.isExportDeclaration(st)) {
      if (st.exportClause && ts.isNamedExports(st.exportClause)) {
        const from = st.moduleSpecifier && ts.isStringLiteral(st.moduleSpecifier) ? resolve(dirname(entryFile), st.moduleSpecifier.text.replace(/\.js$/, '.ts')) : undefined;
        for (const el of st.exportClause.elements) out.set(el.name.text, from);
      }
    } else if (ts.canHaveModifiers(st) && ts.getModifiers(st)?.some((m) => m.kind === ts.SyntaxKind.ExportKeyword)) {
      if (ts.isVariableStatement(st)) {
        for (const d of st.declarationList.declarations) if (ts.isIdentifier(d.name)) out.set(d.name.text, undefined);
      } else if ('name' in st && st.name && ts.isIdentifier(st.name)) {
        out.set(st.name.text, undefined);
      }
    }
  }
  return out;
}

/** The declaration of `name` in `file`, following relative re-exports and imports (not into other packages). */
function declarationOf(file: string, name: string, hops = 0): ts.Node | undefined {
  if (hops > 5 || !existsSync(file)) return undefined;
  const sf = parse(file);
  for (const st of sf.statements) {
    if ((ts.isFunctionDeclaration(st) || ts.isClassDeclaration(st) || ts.isInterfaceDeclaration(st) || ts.isTypeAliasDeclaration(st) || ts.isEnumDeclaration(st)) && st.name?.text === name) return st;
    if (ts.isVariableStatement(st)) {
      for (const d of st.declarationList.declarations) if (ts.isIdentifier(d.name) && d.name.text === name) return d;
    }
    const isRelative = (ts.isExportDeclaration(st) || ts.isImportDeclaration(st)) && st.moduleSpecifier && ts.isStringLiteral(st.moduleSpecifier) && st.moduleSpecifier.text.startsWith('.');
    if (!isRelative) continue;
    const bindings = ts.isExportDeclaration(st) ? st.exportClause : st.importClause?.namedBindings;
    if (!bindings || !(ts.isNamedExports(bindings) || ts.isNamedImports(bindings))) continue;
    for (const el of bindings.elements) {
      if (el.name.text !== name) continue;
      const next = resolve(dirname(file), st.moduleSpecifier.text.replace(/\.js$/, '.ts'));
      return declarationOf(next, (el.propertyName ?? el.name).text, hops + 1);
    }
  }
  return undefined;
}

const isPrivate = (member: ts.ClassElement): boolean =>
  (member.name !== undefined && ts.isPrivateIdentifier(member.name)) ||
  (ts.getCombinedModifierFlags(member) & (ts.ModifierFlags.Private | ts.ModifierFlags.Protected)) !== 0;

/** Type names a declaration shows its users: in a function's signature, a class's public members, an interface or type's body. */
function typeNamesShownBy(decl: ts.Node): Set<string> {
  const out = new Set<string>();
  const collect = (node: ts.Node | undefined): void => {
    if (!node) return;
    if (ts.isTypeReferenceNode(node)) out.add(node.typeName.getText().split('.')[0]!);
    if (ts.isExpressionWithTypeArguments(node)) node.typeArguments?.forEach(collect);
    ts.forEachChild(node, collect);
  };
  const signature = (fn: ts.SignatureDeclaration): void => {
    fn.parameters.forEach((p) => collect(p.type));
    collect(fn.type);
    fn.typeParameters?.forEach((t) => collect(t.constraint));
  };
  if (ts.isFunctionDeclaration(decl)) signature(decl);
  else if (ts.isInterfaceDeclaration(decl) || ts.isTypeAliasDeclaration(decl)) collect(decl);
  else if (ts.isVariableDeclaration(decl)) {
    collect(decl.type);
    if (decl.initializer && (ts.isArrowFunction(decl.initializer) || ts.isFunctionExpression(decl.initializer))) signature(decl.initializer);
  } else if (ts.isClassDeclaration(decl)) {
    for (const member of decl.members) {
      if (isPrivate(member)) continue;
      if (ts.isConstructorDeclaration(member) || ts.isMethodDeclaration(member) || ts.isGetAccessorDeclaration(member)) signature(member);
      else if (ts.isPropertyDeclaration(member)) collect(member.type);
    }
  }
  return out;
}

/** `class XError extends …Error`: an error class, which callers catch and so may need by name. */
const isErrorClass = (decl: ts.Node | undefined): boolean =>
  decl !== undefined &&
  ts.isClassDeclaration(decl) &&
  /Error$/.test(decl.name?.text ?? '') &&
  (decl.heritageClauses?.some((h) => h.types.some((t) => /Error$/.test(t.expression.getText()))) ?? false);

const rel = (file: string): string => relative(root, file).split(sep).join('/');

describe('package exports', () => {
  const all = entries();
  const sites = consumers().flatMap(importsOf);

  it('no package module re-exports with `export *`', () => {
    const offenders: string[] = [];
    for (const dir of readdirSync(join(root, 'packages'))) {
      for (const file of walk(join(root, 'packages', dir, 'src'))) {
        for (const st of parse(file).statements) {
          if (ts.isExportDeclaration(st) && (!st.exportClause || ts.isNamespaceExport(st.exportClause))) offenders.push(`${rel(file)}: ${st.getText()}`);
        }
      }
    }
    assert.deepEqual(offenders, [], 'name each export instead (export { a, type B } from ...)');
  });

  it('every name an entry exports is imported somewhere, an error class, a type of its public API, or allowlisted', () => {
    const problems: string[] = [];
    for (const entry of all) {
      const entryFile = join(root, entry.file);
      const exported = exportedNames(entryFile);
      assert.ok(exported.size > 0, `${entry.file} exports something`);
      const imported = new Set(sites.filter((s) => s.specifier === entry.specifier && s.file !== entryFile).flatMap((s) => s.names));
      assert.ok(!imported.has('*'), `${entry.specifier} is imported by name, not as a whole (import * / export * / import() kept whole)`);
      const declarations = new Map([...exported].map(([name, from]) => [name, declarationOf(from ?? entryFile, name)]));
      const shown = new Set<string>();
      for (const decl of declarations.values()) if (decl) for (const t of typeNamesShownBy(decl)) shown.add(t);
      const allowed = ALLOWLIST[entry.specifier] ?? {};
      for (const name of Object.keys(allowed)) if (!exported.has(name)) problems.push(`${entry.specifier}: ALLOWLIST names ${name}, which it does not export`);
      for (const name of exported.keys()) {
        if (imported.has(name) || isErrorClass(declarations.get(name)) || shown.has(name) || name in allowed) continue;
        problems.push(`${entry.specifier}: ${name} (${entry.file}) is imported nowhere — stop exporting it, or add it to ALLOWLIST with the reason`);
      }
    }
    assert.deepEqual(problems, []);
  });

  it('nothing imports past a package’s exports map', () => {
    const packages = workspacePackages();
    const packageDirs = [...packages.values()].map((p) => p.dir).filter((d) => d.startsWith('packages/'));
    const problems: string[] = [];
    for (const site of sites) {
      const m = /^(@bundlefarm\/[^/]+)(\/.*)?$/.exec(site.specifier);
      if (m) {
        const pkg = packages.get(m[1]!);
        if (!pkg) continue;
        const key = `.${m[2] ?? ''}`;
        const keys = Object.keys(pkg.exports ?? { '.': '' });
        const allowed = keys.some((k) => (k.endsWith('*') ? key.startsWith(k.slice(0, -1)) : k === key));
        if (!allowed) problems.push(`${rel(site.file)}: ${site.specifier} is not in ${pkg.dir}/package.json exports`);
      } else if (site.specifier.startsWith('.')) {
        const target = rel(resolve(dirname(site.file), site.specifier));
        const owner = packageDirs.find((d) => target.startsWith(`${d}/`));
        if (owner && !rel(site.file).startsWith(`${owner}/`)) problems.push(`${rel(site.file)}: ${site.specifier} reaches into ${owner}; import its package instead`);
      }
    }
    assert.deepEqual(problems, []);
  });
});
