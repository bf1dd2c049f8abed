"""Lab 04: breaking or not? For each change, True if it breaks a client written against today's contract."""

BREAKING: dict[str, bool | None] = {
    "proto_renumber": None,  # give an existing proto field a new number
    "proto_rename": None,  # rename a proto field, same number and type (think: the binary wire)
    "graphql_add_nullable_output": None,  # add a nullable field to a GraphQL output type
    "graphql_add_non_null_input": None,  # add a non-null field without default to a GraphQL input
    "rest_add_optional_response_property": None,  # add a property to a REST response
    "soap_insert_in_middle": None,  # insert an element in the middle of an xs:sequence
    "asyncapi_add_property_to_closed_schema": None,  # add a property where additionalProperties: false
}
