package config

func (p *parser) validate() {}
