"""polybrief.v1: the generated protobuf and gRPC stubs of proto/polybrief/v1/polybrief.proto.

The modules beside this file are generated when the package is built (see
proto/hatch_build.py); they are not committed.
"""
