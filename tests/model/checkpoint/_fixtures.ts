/**
 * The checkpoint fixtures written by torch 1.13 (tests/model/fixtures/checkpoint/generate.py)
 * and helpers shared by the checkpoint tests.
 */
import assert from "node:assert/strict";
import { InputError } from "../../../core/errors.ts";
import type { NamedArray } from "../../../model/checkpoint/safetensors.ts";

export const FIXTURES = new URL("../fixtures/checkpoint/", import.meta.url).pathname;

/** The foreground classes of the tiny layouts. */
export const TINY_CLASSES = 3;

export function fixture(name: string): string {
  return FIXTURES + name;
}

export function readFixture(name: string): Uint8Array {
  return Deno.readFileSync(fixture(name));
}

/** torchvision 0.14's Mask R-CNN key names with small shapes, 3 classes: name -> shape. */
export function tinyLayout(): Map<string, number[]> {
  return new Map(Object.entries(JSON.parse(Deno.readTextFileSync(fixture("tiny_layout.json")))));
}

/** Assert that `fn` throws one `InputError` line that contains every one of `parts`. */
export function assertInputError(fn: () => unknown, ...parts: string[]): string {
  let message = "";
  assert.throws(fn, (e: Error) => {
    assert.ok(e instanceof InputError, `expected an InputError, got ${e.name}: ${e.message}`);
    message = e.message;
    return true;
  });
  assertLine(message, parts);
  return message;
}

/** The async form of `assertInputError`. */
export async function assertRejectsInput(fn: () => Promise<unknown>, ...parts: string[]): Promise<string> {
  let message = "";
  await assert.rejects(fn, (e: Error) => {
    assert.ok(e instanceof InputError, `expected an InputError, got ${e.name}: ${e.message}`);
    message = e.message;
    return true;
  });
  assertLine(message, parts);
  return message;
}

function assertLine(message: string, parts: string[]): void {
  assert.ok(!message.includes("\n"), `not one line: ${message}`);
  for (const p of parts) assert.ok(message.includes(p), `message lacks ${JSON.stringify(p)}: ${message}`);
}

/** Assert two state dicts hold the same names, shapes and values, exactly. */
export function assertSameTensors(got: Map<string, NamedArray>, want: Map<string, NamedArray>): void {
  assert.deepEqual([...got.keys()].sort(), [...want.keys()].sort());
  for (const [k, w] of want) {
    const g = got.get(k)!;
    assert.deepEqual(g.shape, w.shape, `shape of ${k}`);
    assert.deepEqual(g.data, w.data, `values of ${k}`);
  }
}
