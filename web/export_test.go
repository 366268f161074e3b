package web

import "github.com/labstack/echo/v4"

// APIEcho returns the echo application of the token port, whose routes
// tests compare with gateway.Reserved.
func APIEcho(s *Server) *echo.Echo { return s.api }
