"""The gRPC style: a grpc.aio server adapter over the core, and a client implementing ReservationApi."""
