// An editor's first F5, driven by VS Code's own DAP test client (@vscode/debugadapter-testsupport):
// a workflow file of a project never imported, a line breakpoint on its first step, then the
// stack, scopes, variables, evaluate, next and continue to the end. Run by tests/dap_vscode.rs:
//
//   node session.mjs FLOWDECK_BINARY PROJECT_DIR
//
// Exits 0 when the whole session passed; otherwise prints what failed and exits 1.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import testsupport from '@vscode/debugadapter-testsupport';

const { DebugClient } = testsupport;
const [binary, project] = process.argv.slice(2);
const file = path.join(project, 'workflows', 'reorder_supply.json');
const line = fs.readFileSync(file, 'utf8').split('\n').findIndex((l) => l.includes('"id": "load"')) + 1;
assert.ok(line > 0, `no step "load" in ${file}`);

const dc = new DebugClient(binary, 'dap', 'flowdeck', {
  env: { ...process.env, FLOWDECK_LOG_FILE: path.join(project, 'dap.log') },
});
dc.defaultTimeout = 20000;

async function session() {
  await dc.start();
  // VS Code's order: initialize, launch without waiting, breakpoints on `initialized`,
  // configurationDone; stopped at the breakpoint's line in the file
  await dc.hitBreakpoint({ program: file, params: { sku: 1 } }, { path: file, line });
  const threads = await dc.threadsRequest();
  const thread = threads.body.threads[0].id;
  const stack = await dc.stackTraceRequest({ threadId: thread });
  const top = stack.body.stackFrames[0];
  assert.equal(top.name, 'load (db.query)');
  assert.equal(top.source.path, file);
  const sku = await dc.evaluateRequest({ expression: '$param.sku', frameId: top.id, context: 'repl' });
  assert.equal(sku.body.result, '1');
  // over the query: $var.rows holds the SKU that schema.sql seeded
  await Promise.all([dc.nextRequest({ threadId: thread }), dc.waitForEvent('stopped')]);
  const after = (await dc.stackTraceRequest({ threadId: thread })).body.stackFrames[0];
  assert.notEqual(after.line, line, 'next moved on from the query');
  const scopes = await dc.scopesRequest({ frameId: after.id });
  const vars = scopes.body.scopes.find((s) => s.name === '$var');
  assert.ok(vars, `a $var scope: ${JSON.stringify(scopes.body.scopes)}`);
  const variables = await dc.variablesRequest({ variablesReference: vars.variablesReference });
  const rows = variables.body.variables.find((v) => v.name === 'rows');
  assert.ok(rows, `$var.rows: ${JSON.stringify(variables.body.variables)}`);
  assert.equal(rows.value, 'array[1]');
  await Promise.all([dc.continueRequest({ threadId: thread }), dc.waitForEvent('terminated')]);
}

try {
  await session();
  console.log('ok: a whole session in VS Code order');
} catch (error) {
  console.error(`failed: ${error.stack ?? error}`);
  process.exitCode = 1;
} finally {
  await dc.stop();
}
