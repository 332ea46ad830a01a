module github.com/qthr/qthr/examples/go

go 1.24

require github.com/qthr/qthr/bindings/go v0.0.0

replace github.com/qthr/qthr/bindings/go => ../../bindings/go
