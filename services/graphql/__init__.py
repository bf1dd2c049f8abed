"""The GraphQL adapter (strawberry): queries, mutations and subscriptions over one core service.

``create_app`` builds the ASGI app served at ``/graphql``; ``GraphQLClient`` is the matching
``ReservationApi`` client; ``contracts/schema.graphql`` is the checked-in SDL.
"""
