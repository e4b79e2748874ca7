"""Events on the move: the bus and its two backends, the codec, the outbox and inbox, the consumer."""
