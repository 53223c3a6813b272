// Devices fail over to another node when theirs does not answer (testnet/failover.ts). The fault: in the
// testnet a device only talked to its own node, so every order it signed while that node restarted was
// lost. A refusal (the node answered) must not be retried elsewhere.
import { describe, expect, it } from "vitest";
import { ApiError } from "../../node/api/client.ts";
import { type OrderTarget, sendWithFailover } from "../../testnet/failover.ts";

function target(
  behaviour: "ok" | "down" | "unreachable" | "refuse",
  calls: number[],
  i: number,
): OrderTarget {
  return {
    running: behaviour !== "down",
    send: async () => {
      calls.push(i);
      if (behaviour === "unreachable") throw new ApiError(null, "UNREACHABLE", "connect ECONNREFUSED");
      if (behaviour === "refuse") throw new ApiError(400, "EPOCH_CLOSED", "epoch 3 has closed");
    },
  };
}

describe("sendWithFailover", () => {
  it("sends to the device's own node when it answers", async () => {
    const calls: number[] = [];
    const ts = ["ok", "ok", "ok"].map((b, i) => target(b as "ok", calls, i));
    expect(await sendWithFailover(ts, 1)).toBe(1);
    expect(calls).toEqual([1]);
  });

  it("goes on to the next nodes, in turn, while the one tried does not answer or is known down", async () => {
    const calls: number[] = [];
    const ts = (["ok", "unreachable", "down", "ok"] as const).map((b, i) => target(b, calls, i));
    expect(await sendWithFailover(ts, 1)).toBe(3);
    expect(calls).toEqual([1, 3]); // node 2 is known down: no request
    const wrap: number[] = [];
    const ts2 = (["ok", "ok", "unreachable"] as const).map((b, i) => target(b, wrap, i));
    expect(await sendWithFailover(ts2, 2)).toBe(0);
  });

  it("a refusal is final: the order is not sent to another node", async () => {
    const calls: number[] = [];
    const ts = (["refuse", "ok"] as const).map((b, i) => target(b, calls, i));
    await expect(sendWithFailover(ts, 0)).rejects.toMatchObject({ code: "EPOCH_CLOSED" });
    expect(calls).toEqual([0]);
  });

  it("no node answers: the last transport error", async () => {
    const calls: number[] = [];
    const ts = (["unreachable", "down"] as const).map((b, i) => target(b, calls, i));
    await expect(sendWithFailover(ts, 0)).rejects.toMatchObject({ code: "UNREACHABLE" });
    await expect(sendWithFailover([target("down", calls, 0)], 0)).rejects.toMatchObject({
      code: "UNREACHABLE",
    });
  });
});
