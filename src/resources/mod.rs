//! One module per resource kind behind one trait: desired attributes, replacement rules, CRUD.
