"""Stubs generated from protos/ by services/grpc/codegen.py: do not edit."""
