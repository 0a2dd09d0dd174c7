# Extra end-to-end tests: NATS security options (user/password, mTLS, NKey) and wire
# interoperability with Go HarmonyLite (raw Go-format messages, our published messages, a
# Go-written seq-map file).
hl_add_test(tst_security LABEL e2e TIMEOUT 600 SOURCES e2e/tst_security.cpp)
hl_add_test(tst_interop LABEL e2e TIMEOUT 600 SOURCES e2e/tst_interop.cpp)
