"""Lab 04, a reference answer: which changes break a client written against yesterday's contract."""

BREAKING: dict[str, bool] = {
    "proto_renumber": True,  # give an existing proto field a new number
    "proto_rename": False,  # rename a proto field, same number and type (think: the binary wire)
    "graphql_add_nullable_output": False,  # add a nullable field to a GraphQL output type
    "graphql_add_non_null_input": True,  # add a non-null field without default to a GraphQL input
    "rest_add_optional_response_property": False,  # add a property to a REST response
    "soap_insert_in_middle": True,  # insert an element in the middle of an xs:sequence
    "asyncapi_add_property_to_closed_schema": True,  # add a property where additionalProperties: false
}
