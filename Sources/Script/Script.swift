/// The Mirage language.
