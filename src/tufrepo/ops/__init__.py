"""Operations: what the commands do, as library functions over the core.

Signing events, targets, online signing, expiry renewal, releases, publishing,
main's anchor, status and signer summaries.  The CLI parses, calls one
operation and renders its result.
"""
