mod fuzz;
mod golden;
