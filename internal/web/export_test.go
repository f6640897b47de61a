package web

// DeviceOf is deviceOf, for the external tests.
var DeviceOf = deviceOf

// UserAgentOf is userAgentOf, for the external tests.
var UserAgentOf = userAgentOf
