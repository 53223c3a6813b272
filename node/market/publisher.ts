// Outgoing orders of one market topic, coalesced into bundles (protocol/bundle.ts). Orders handed over in
// one turn of the event loop (concurrent API requests, a batch request, the node's own orders) leave in
// one message per MAX_ORDERS_PER_BUNDLE at the next turn; a lone order leaves bare, as before bundles.
// issue 13: libp2p's receive path costs about 120 µs a message at every node, whatever it carries.

import { encodeBundle } from "../../protocol/bundle.ts";
import { MAX_ORDERS_PER_BUNDLE } from "../../protocol/constants.ts";

interface Waiting {
  readonly wire: Uint8Array;
  readonly resolve: (recipients: number) => void;
  readonly reject: (err: unknown) => void;
}

export class BundlePublisher {
  private readonly publish: (data: Uint8Array) => Promise<number>;
  private pending: Waiting[] = [];
  private scheduled = false;

  constructor(publish: (data: Uint8Array) => Promise<number>) {
    this.publish = publish;
  }

  /**
   * Queues a wire-encoded order; resolves to the number of peers its message was sent to, or rejects
   * with the publish error of its message.
   */
  send(wire: Uint8Array): Promise<number> {
    return new Promise<number>((resolve, reject) => {
      this.pending.push({ wire, resolve, reject });
      if (!this.scheduled) {
        this.scheduled = true;
        setImmediate(() => this.flush());
      }
    });
  }

  private flush(): void {
    this.scheduled = false;
    const all = this.pending;
    this.pending = [];
    for (let i = 0; i < all.length; i += MAX_ORDERS_PER_BUNDLE) {
      const chunk = all.slice(i, i + MAX_ORDERS_PER_BUNDLE);
      const data = chunk.length === 1 ? chunk[0]!.wire : encodeBundle(chunk.map((w) => w.wire));
      let sent: Promise<number>;
      try {
        sent = this.publish(data);
      } catch (err) {
        sent = Promise.reject(err);
      }
      sent.then(
        (n) => {
          for (const w of chunk) w.resolve(n);
        },
        (err: unknown) => {
          for (const w of chunk) w.reject(err);
        },
      );
    }
  }
}
