//! What a configuration is in a sweep cell: a candidate trained alone, or
//! one of the mixed layouts built from the cell's ranked candidates. A
//! typed role, not a name: a results file with an unknown role is an error
//! when read, and a new role makes the compiler show every place that must
//! handle it.

/// The role of a configuration in a sweep cell.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Role {
    /// A candidate activation alone (the baselines).
    Homogeneous,
    /// The best two candidates interleaved neuron by neuron.
    MaskBestTwo,
    /// The best two candidates as concatenated branches.
    BranchesBestTwo,
    /// The best two with the interleaved counts arranged at random per seed.
    RandomBestTwo,
    /// The slope-only control on the best candidate.
    SlopeBest,
    /// Every candidate interleaved.
    MaskAll,
}

impl Role {
    /// The mixed roles, in report order.
    pub const MIXED: [Role; 5] = [
        Role::MaskBestTwo,
        Role::BranchesBestTwo,
        Role::RandomBestTwo,
        Role::SlopeBest,
        Role::MaskAll,
    ];

    /// The name in reports and results files.
    pub fn name(self) -> &'static str {
        match self {
            Role::Homogeneous => "homogeneous",
            Role::MaskBestTwo => "mask best2",
            Role::BranchesBestTwo => "branches best2",
            Role::RandomBestTwo => "random best2",
            Role::SlopeBest => "slope best",
            Role::MaskAll => "mask all",
        }
    }

    /// The role named `name`, if any.
    pub fn from_name(name: &str) -> Option<Role> {
        std::iter::once(Role::Homogeneous)
            .chain(Role::MIXED)
            .find(|r| r.name() == name)
    }
}

impl std::fmt::Display for Role {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}
