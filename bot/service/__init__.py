"""The conversation service: sessions in order, limits, the durable inbox, the engine process."""
