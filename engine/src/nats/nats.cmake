# Sources of the embedded NATS server supervisor, added to hl_engine.
