module github.com/qthr/qthr/bindings/go

go 1.24
