"""Personal data: what the schema marks, what may leave the machine, pseudonyms,
consent, and erasure (``kg forget``) and access (``kg export --user``)."""
