mod fuzz;
mod golden;
mod scan;
