// The part of a gossipsub router that OrderGossip drives, in memory, for unit tests of the gossip layer:
// `validate` runs the topic validator as gossipsub would on a peer's message, `deliver` hands over a
// message that passed it (the "gossipsub:message" event).
export function fakeGossipRouter() {
  let listener: ((evt: CustomEvent) => void) | undefined;
  const validators = new Map<string, (peer: { toString(): string }, msg: { data: Uint8Array }) => unknown>();
  const router = {
    topicValidators: validators,
    subscribe: () => {},
    unsubscribe: () => {},
    addEventListener: (_t: string, fn: (evt: CustomEvent) => void) => {
      listener = fn;
    },
    removeEventListener: () => {},
    reportMessageValidationResult: () => {},
    getScore: () => 0,
    getSubscribers: () => [],
  };
  return {
    router,
    validate: (topic: string, from: string, data: Uint8Array): unknown =>
      validators.get(topic)!({ toString: () => from }, { data }),
    deliver: (topic: string, from: string, data: Uint8Array): void =>
      listener?.(
        new CustomEvent("gossipsub:message", {
          detail: { msgId: "m", propagationSource: { toString: () => from }, msg: { topic, data } },
        }),
      ),
  };
}
