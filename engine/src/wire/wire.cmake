# Sources of the wire codec, added to hl_engine.
