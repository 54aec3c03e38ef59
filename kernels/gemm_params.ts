import type { GemmVariant } from "./gemm_choice.ts";

export interface GemmParams {
  batch: number;
  M: number;
  N: number;
  K: number;
  /** A is stored [K, M] instead of [M, K]. */
  transA: boolean;
  /** B is stored [N, K] instead of [K, N]. */
  transB: boolean;
  /** A (or B) is one matrix shared by every batch entry. */
  broadcastA?: boolean;
  broadcastB?: boolean;
  accumulate?: boolean;
  /** Rows and columns of C per invocation (tn a multiple of 4), and invocations per workgroup along N and M. */
  tm?: number;
  tn?: number;
  wgx?: number;
  wgy?: number;
  variant?: GemmVariant;
}
