import assert from "node:assert/strict";
import { test } from "node:test";

import { parseStatus, renderStatus, rootName, type StatusParams } from "../src/status";

function map(...items: StatusParams[]): Map<string, StatusParams> {
  return new Map(items.map((s) => [s.root, s]));
}

test("parseStatus accepts the server's payload and rejects junk", () => {
  assert.deepEqual(parseStatus({ state: "connected", driftCount: 3, message: "ok", root: "file:///a" }), {
    state: "connected",
    driftCount: 3,
    message: "ok",
    root: "file:///a",
  });
  assert.equal(parseStatus({ state: "exploded" }), undefined);
  assert.equal(parseStatus(null), undefined);
  assert.equal(parseStatus("connected"), undefined);
  assert.equal(parseStatus({ state: "stale", driftCount: -1 })?.driftCount, 0);
});

test("a connected database shows the drift count", () => {
  const v = renderStatus(map({ state: "connected", driftCount: 3, message: "", root: "file:///w/shop" }));
  assert.equal(v.text, "$(database) 3 drifts");
  assert.equal(v.background, "warning");
  assert.match(v.tooltip, /shop: connected, 3 drifts/);
});

test("no drift means no background; one drift is singular", () => {
  assert.equal(renderStatus(map({ state: "connected", driftCount: 0, message: "", root: "r" })).background, undefined);
  assert.equal(renderStatus(map({ state: "connected", driftCount: 1, message: "", root: "r" })).text, "$(database) 1 drift");
});

test("the worst state of several roots wins and counts add up", () => {
  const v = renderStatus(
    map(
      { state: "connected", driftCount: 2, message: "", root: "file:///a" },
      { state: "unreachable", driftCount: 1, message: "connection refused", root: "file:///b" },
    ),
  );
  assert.equal(v.text, "$(debug-disconnect) 3 drifts (unreachable)");
  assert.equal(v.background, "error");
  assert.match(v.tooltip, /b: unreachable, 1 drift — connection refused/);
});

test("checking spins and nothing yet says starting", () => {
  assert.match(renderStatus(map({ state: "checking", driftCount: 0, message: "", root: "r" })).text, /sync~spin/);
  assert.match(renderStatus(new Map()).tooltip, /starting/);
  assert.equal(rootName("file:///home/me/my%20shop/"), "my shop");
});
