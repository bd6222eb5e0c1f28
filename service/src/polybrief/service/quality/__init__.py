"""How far to trust an output: checks of model outputs (loops, length, copies), the
re-decoding guard, confidence, and glossary terms kept verbatim. grpc-free, and
independent of any model: every guarantee here holds on a random model too."""
