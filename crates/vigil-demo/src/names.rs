//! Word lists for the fictional company: people's names, departments, job titles.

pub const GIVEN: &[&str] = &[
    "Anna", "Bram", "Carla", "Daan", "Elif", "Femke", "Goran", "Hanna", "Ivo", "Jasmijn",
    "Karim", "Lotte", "Milan", "Noor", "Oskar", "Petra", "Quinten", "Rosa", "Sanne", "Tomas",
    "Ugo", "Vera", "Wout", "Yara", "Zeynep", "Alexei", "Bianca", "Cedric", "Dilara", "Emil",
    "Fatima", "Gijs", "Helena", "Imke", "Joris", "Katja", "Lars", "Mira", "Niels", "Olga",
    "Pieter", "Rania", "Stijn", "Tessa", "Umut", "Valentijn", "Willemijn", "Xander", "Youssef",
    "Zoe", "Amir", "Britt", "Casper", "Dewi", "Esra", "Floris", "Greta", "Hugo", "Ilse",
    "Jonas", "Kees", "Leila", "Marek", "Nadia", "Otto", "Priya", "Ruben", "Sofia", "Thijs",
];

pub const SURNAMES: &[&str] = &[
    "Aalders", "Bakker", "Claes", "Dekker", "Engel", "Fontein", "Groen", "Hendriks", "Ismail",
    "Jansen", "Kok", "Lambrecht", "Meijer", "Nowak", "Ozturk", "Peeters", "Quist", "Rietveld",
    "Smit", "Terpstra", "Uijl", "Visser", "Willems", "Yilmaz", "Zwart", "Amrani", "Bosman",
    "Castelein", "Doorn", "Eekhout", "Falk", "Geerts", "Hofman", "Iversen", "Jacobs", "Kowalski",
    "Lindqvist", "Molenaar", "Nieuwland", "Oosterhout", "Prins", "Roos", "Schouten", "Tromp",
    "Vos", "Wagenaar", "Zijlstra", "Brouwer", "Coenen", "Dijkstra", "Evers", "Franken",
    "Gerritsen", "Huisman", "Kuipers", "Lammers", "Mulder", "Postma", "Ramaker", "Sterk",
];

/// Departments: name, head count, job titles (the first is the head's).
pub const DEPARTMENTS: &[(&str, usize, &[&str])] = &[
    ("Executive", 5, &["Chief Executive Officer", "Chief Financial Officer", "Chief Operating Officer", "Executive Assistant"]),
    ("Engineering", 38, &["Head of Engineering", "Mechanical Engineer", "Electrical Engineer", "Design Engineer", "Test Engineer"]),
    ("Research", 14, &["Head of Research", "Research Scientist", "Lab Technician"]),
    ("Operations", 34, &["Head of Operations", "Production Planner", "Logistics Coordinator", "Quality Inspector"]),
    ("Sales", 30, &["Head of Sales", "Account Manager", "Sales Engineer", "Inside Sales Representative"]),
    ("Marketing", 16, &["Head of Marketing", "Marketing Specialist", "Content Designer"]),
    ("Finance", 20, &["Head of Finance", "Accountant", "Accounts Payable Clerk", "Financial Controller"]),
    ("HR", 12, &["Head of HR", "HR Advisor", "Recruiter", "Payroll Specialist"]),
    ("Legal", 7, &["General Counsel", "Legal Counsel", "Contract Manager"]),
    ("IT", 24, &["Head of IT", "Systems Administrator", "Service Desk Analyst", "Network Engineer", "Security Analyst"]),
];

/// Offices: city, country code, country, region, latitude, longitude.
pub const OFFICES: &[(&str, &str, &str, &str, f64, f64)] = &[
    ("Rotterdam", "NL", "Netherlands", "Zuid-Holland", 51.9225, 4.4792),
    ("Eindhoven", "NL", "Netherlands", "Noord-Brabant", 51.4416, 5.4697),
    ("Antwerp", "BE", "Belgium", "Antwerpen", 51.2194, 4.4025),
];
