mod golden;
mod fuzz;
