"""The client's version: creditd's own (configure.ac's AC_INIT), which the client is released with."""

VERSION = "0.2.0"
