# EKS access entries of cluster tricky, written by aws-auth-migrate from testdata/iac/tricky.yaml
#   (offline plan).
# 4 access entries, 3 policy associations; 0 mappings stay in aws-auth.
# Review it like any change of who may use the cluster. The tool's created-by tag is never written
#   here.
#
# Offline plan, so no imports: EKS makes node, Fargate and cluster-creator entries itself at the
#   switch to API_AND_CONFIG_MAP, and creating them again fails with ResourceInUseException. Switch
#   the mode first, then write this again from the live cluster:
#   aws-auth-migrate migrate --cluster tricky --to dual   # or the authentication mode in your IaC
#   aws-auth-migrate plan --cluster tricky -o terraform-module
#
# Then, once applied:
#   aws-auth-migrate verify --cluster tricky            # parity, recorded for the api gate
#   aws-auth-migrate migrate --cluster tricky --to api --confirm tricky
# and then say API in the IaC's authentication mode too: EKS refuses any way back, so an apply that
#   still says API_AND_CONFIG_MAP fails.
#
# For the terraform-aws-eks module block `module "eks"`: set access_entries =
#   local.eks_access_entries and enable_cluster_creator_admin_permissions = false (an entry the
#   cluster creator has is declared here like any other). Needs Terraform 1.5 or later (import
#   blocks).

locals {
  eks_access_entries = {
    # mapRoles[0] in aws-auth
    deploy_111122223333_role = {
      principal_arn     = "arn:aws:iam::111122223333:role/deploy"
      type              = "STANDARD"
      user_name         = "deploy:$${CI_JOB}:{{SessionName}}"
      kubernetes_groups = ["on", "0777", "%%{if}", "developers"]

      policy_associations = {
        edit = {
          policy_arn = "arn:aws:eks::aws:cluster-access-policy/AmazonEKSEditPolicy"

          access_scope = {
            type       = "namespace"
            namespaces = ["dev-*", "null"]
          }
        }
      }
    }

    # mapRoles[1] in aws-auth
    deploy_444455556666 = {
      principal_arn     = "arn:aws:iam::444455556666:role/deploy"
      type              = "STANDARD"
      user_name         = "other-deploy"
      kubernetes_groups = ["yes"]
    }

    # mapRoles[2] in aws-auth
    team_dev = {
      principal_arn     = "arn:aws:iam::111122223333:role/team.dev"
      type              = "STANDARD"
      user_name         = "dev-team"
      kubernetes_groups = ["developers"]

      policy_associations = {
        edit = {
          policy_arn = "arn:aws:eks::aws:cluster-access-policy/AmazonEKSEditPolicy"

          access_scope = {
            type       = "namespace"
            namespaces = ["dev-*", "null"]
          }
        }
      }
    }

    # mapUsers[0] in aws-auth
    deploy_111122223333_user = {
      principal_arn = "arn:aws:iam::111122223333:user/deploy"
      type          = "STANDARD"
      user_name     = "quote\"back\\slash#hash"

      policy_associations = {
        view = {
          policy_arn = "arn:aws:eks::aws:cluster-access-policy/AmazonEKSViewPolicy"

          access_scope = {
            type = "cluster"
          }
        }
      }
    }
  }
}
