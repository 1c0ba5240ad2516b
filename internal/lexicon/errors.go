package lexicon

import (
	"fmt"
	"net/http"
)

// Error names used in the XRPC error envelope {"error": Name, "message": Message}.
const (
	NameInvalidRequest       = "InvalidRequest"
	NameMethodNotImplemented = "MethodNotImplemented"
)

// Error is a request rejected by the XRPC layer. Status is the HTTP status,
// Name and Message go into the error envelope. Messages name fields and
// constraints, never the values the client sent.
type Error struct {
	Status  int
	Name    string
	Message string
}

func (e *Error) Error() string {
	return fmt.Sprintf("%d %s: %s", e.Status, e.Name, e.Message)
}

// NotImplemented is the error for an NSID alf does not serve (any HTTP verb).
func NotImplemented() *Error {
	return &Error{Status: http.StatusNotImplemented, Name: NameMethodNotImplemented, Message: "Method Not Implemented"}
}

func invalidRequest(format string, args ...any) *Error {
	return &Error{Status: http.StatusBadRequest, Name: NameInvalidRequest, Message: fmt.Sprintf(format, args...)}
}
