//! Google Cloud resource names (`projects/P/locations/L/COLLECTION/ID`), parsed into a type,
//! with the rules the networkservices and Cloud Run APIs apply to their parts.

use std::fmt;

/// Where a collection lives: only in `global`, or in any location.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Locations {
    /// `locations/global` only (routes, meshes, backend services of the mesh).
    Global,
    /// Any location (gateways, Cloud Run services).
    Any,
}

/// The expected shape of a full resource name: a collection and where it may live.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pattern {
    /// The collection segment, e.g. `httpRoutes`.
    pub collection: &'static str,
    /// Where the collection lives.
    pub locations: Locations,
}

impl Pattern {
    /// `projects/*/locations/global/COLLECTION/*`.
    pub const fn global(collection: &'static str) -> Self {
        Self {
            collection,
            locations: Locations::Global,
        }
    }

    /// `projects/*/locations/*/COLLECTION/*`.
    pub const fn any_location(collection: &'static str) -> Self {
        Self {
            collection,
            locations: Locations::Any,
        }
    }
}

impl fmt::Display for Pattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let location = match self.locations {
            Locations::Global => "global",
            Locations::Any => "LOCATION",
        };
        write!(
            f,
            "projects/PROJECT/locations/{location}/{}/ID",
            self.collection
        )
    }
}

/// A full resource name, borrowed from the text it was parsed from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ResourceName<'a> {
    /// Project ID or number.
    pub project: &'a str,
    /// Location, e.g. `global`.
    pub location: &'a str,
    /// Collection, e.g. `meshes`.
    pub collection: &'a str,
    /// The resource ID, the last segment.
    pub id: &'a str,
}

/// Why a text is not a valid resource name of a [`Pattern`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NameError {
    /// Not `projects/P/locations/L/C/ID` at all.
    #[error("it is not of the form `{pattern}`")]
    Shape {
        /// The expected form.
        pattern: Pattern,
    },
    /// Another collection than expected.
    #[error("it names a `{found}` resource, not `{expected}`")]
    Collection {
        /// The collection written.
        found: String,
        /// The collection expected.
        expected: &'static str,
    },
    /// A location other than `global` where only `global` exists.
    #[error("its location is `{0}`, but these resources exist only in `global`")]
    Location(String),
    /// The project part is neither a project ID nor a number.
    #[error(
        "its project `{0}` is not a project ID or number (lowercase letters, digits and hyphens)"
    )]
    Project(String),
    /// The ID part breaks the ID rules.
    #[error("its ID `{id}` {problem}")]
    Id {
        /// The ID written.
        id: String,
        /// What is wrong with it.
        problem: IdError,
    },
}

/// Why a text is not a resource ID (1 to 63 characters: a lowercase letter, then lowercase
/// letters, digits and hyphens, not ending with a hyphen).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum IdError {
    /// Empty.
    #[error("is empty")]
    Empty,
    /// Longer than 63 characters.
    #[error("is {0} characters long; at most 63 are allowed")]
    TooLong(usize),
    /// Starts with something other than a lowercase letter.
    #[error("must start with a lowercase letter")]
    Start,
    /// Ends with a hyphen.
    #[error("must not end with a hyphen")]
    End,
    /// Has a character other than lowercase letters, digits and hyphens.
    #[error("may only hold lowercase letters, digits and hyphens")]
    Characters,
}

/// Longest resource ID.
pub const MAX_ID: usize = 63;

/// Checks a resource ID: 1 to 63 characters matching `[a-z]([-a-z0-9]*[a-z0-9])?`.
pub fn check_id(id: &str) -> Result<(), IdError> {
    let length = id.chars().count();
    if length == 0 {
        return Err(IdError::Empty);
    }
    if length > MAX_ID {
        return Err(IdError::TooLong(length));
    }
    if !id.starts_with(|c: char| c.is_ascii_lowercase()) {
        return Err(IdError::Start);
    }
    if !id
        .chars()
        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
    {
        return Err(IdError::Characters);
    }
    if id.ends_with('-') {
        return Err(IdError::End);
    }
    Ok(())
}

/// True for what may stand as a project: a project ID or number, in lowercase letters, digits
/// and hyphens (a domain-scoped ID such as `example.com:my-project` too). The API checks that
/// the project exists; this only catches what cannot be one (`My_Project`, `my project`).
pub fn is_project(project: &str) -> bool {
    !project.is_empty()
        && project.starts_with(|c: char| c.is_ascii_alphanumeric())
        && project
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '-' | '.' | ':'))
}

/// Parses `text` as a full name of `pattern`, checking each part.
pub fn parse(text: &str, pattern: Pattern) -> Result<ResourceName<'_>, NameError> {
    let parts: Vec<&str> = text.split('/').collect();
    let ["projects", project, "locations", location, collection, id] = parts.as_slice() else {
        return Err(NameError::Shape { pattern });
    };
    if project.is_empty() || location.is_empty() {
        return Err(NameError::Shape { pattern });
    }
    if *collection != pattern.collection {
        return Err(NameError::Collection {
            found: collection.to_string(),
            expected: pattern.collection,
        });
    }
    if !is_project(project) {
        return Err(NameError::Project(project.to_string()));
    }
    if pattern.locations == Locations::Global && *location != "global" {
        return Err(NameError::Location(location.to_string()));
    }
    check_id(id).map_err(|problem| NameError::Id {
        id: id.to_string(),
        problem,
    })?;
    Ok(ResourceName {
        project,
        location,
        collection,
        id,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const MESHES: Pattern = Pattern::global("meshes");

    #[test]
    fn full_names_parse_into_their_parts() {
        let name = parse("projects/my-project/locations/global/meshes/mesh-1", MESHES);
        assert_eq!(
            name,
            Ok(ResourceName {
                project: "my-project",
                location: "global",
                collection: "meshes",
                id: "mesh-1"
            })
        );
        assert!(parse("projects/123456/locations/global/meshes/m", MESHES).is_ok());
        assert!(parse(
            "projects/p-123456/locations/us-central1/gateways/g",
            Pattern::any_location("gateways")
        )
        .is_ok());
    }

    #[test]
    fn each_part_is_checked() {
        let error = |text: &str| parse(text, MESHES).unwrap_err().to_string();
        assert_eq!(
            error("meshes/m"),
            "it is not of the form `projects/PROJECT/locations/global/meshes/ID`"
        );
        assert_eq!(
            error("projects/my-project/locations/global/gateways/m"),
            "it names a `gateways` resource, not `meshes`"
        );
        assert_eq!(
            error("projects/my-project/locations/us-east1/meshes/m"),
            "its location is `us-east1`, but these resources exist only in `global`"
        );
        assert!(error("projects/My_Project/locations/global/meshes/m").contains("`My_Project`"));
        assert_eq!(
            error("projects/my-project/locations/global/meshes/Mesh"),
            "its ID `Mesh` must start with a lowercase letter"
        );
    }

    #[test]
    fn ids_follow_the_rfc_1035_label_rules() {
        assert_eq!(check_id("a"), Ok(()));
        assert_eq!(check_id("route-2"), Ok(()));
        assert_eq!(check_id(&"a".repeat(63)), Ok(()));
        assert_eq!(check_id(&"a".repeat(64)), Err(IdError::TooLong(64)));
        assert_eq!(check_id(""), Err(IdError::Empty));
        assert_eq!(check_id("2route"), Err(IdError::Start));
        assert_eq!(check_id("route-"), Err(IdError::End));
        assert_eq!(check_id("my_route"), Err(IdError::Characters));
    }

    #[test]
    fn projects_are_ids_or_numbers() {
        for ok in ["my-project", "p", "123", "example.com:my-project"] {
            assert!(is_project(ok), "{ok}");
        }
        for bad in ["My-Project", "my_project", "my project", "-p", ""] {
            assert!(!is_project(bad), "{bad}");
        }
    }
}
